// Image prune (POST /images/prune): removes the images no container uses, by Docker's rules.
// dangling=true (the default) takes only untagged images (digest references alone do not
// keep one); dangling=false takes every image without a container. until=<time|duration>
// keeps images created after it; label=k[=v] and label!=k[=v] select on config labels.
// Deletion goes through the image service's rmi (name by name, then the image), so layers
// that remaining images share stay, and the untag/delete events are the usual ones; a
// conflict just leaves that image. One prune runs at a time.
import { badParameter, conflict, isConflict, isNotFound } from '../errdefs/errors.js';
import type { ImagePruneReport } from '../wire/types.js';
import type { Publish } from '../events/bus.js';
import type { DeleteResult, ImageRecord, ImageService } from './service.js';
import { createdBefore, matchLabelList, parseUntilFilter } from '../util/filters.js';

const ACCEPTED_FILTERS = ['dangling', 'label', 'label!', 'until'];

export interface PruneSelection {
  danglingOnly: boolean;
  /** Unix seconds; images created after it stay. */
  until?: number;
  labels: string[];
  notLabels: string[];
}

/** The prune filters, validated as Docker validates them (400 with its wording). */
export function parsePruneFilters(filters: ReadonlyMap<string, readonly string[]>, now: Date): PruneSelection {
  for (const key of filters.keys()) if (!ACCEPTED_FILTERS.includes(key)) throw badParameter(`invalid filter '${key}'`);
  let danglingOnly = true;
  const dangling = filters.get('dangling');
  if (dangling) {
    const isFalse = dangling.includes('0') || dangling.includes('false');
    const isTrue = dangling.includes('1') || dangling.includes('true');
    if (isFalse === isTrue) throw badParameter(dangling.length === 0 ? "invalid filter 'dangling'" : `invalid filter 'dangling=[${dangling.join(' ')}]'`);
    danglingOnly = isTrue;
  }
  const until = parseUntilFilter(filters.get('until'), now, badParameter);
  return { danglingOnly, until, labels: [...(filters.get('label') ?? [])], notLabels: [...(filters.get('label!') ?? [])] };
}

/** Whether the image passes the time and label filters (Docker's matchLabels and until). */
export function matchesPruneFilters(record: ImageRecord, selection: PruneSelection): boolean {
  if (!createdBefore(record.config.created, selection.until)) return false;
  const labels = record.config.config?.Labels ?? {};
  if (record.config.config) {
    if (!matchLabelList(selection.labels, labels)) return false;
    if (selection.notLabels.length > 0 && matchLabelList(selection.notLabels, labels)) return false;
  }
  return true;
}

/**
 * The images a prune removes, each with the names to remove it by (none: by ID). A dangling
 * prune takes images without tags; images a container uses are never candidates.
 */
export function pruneCandidates(
  records: readonly ImageRecord[], selection: PruneSelection, usedByContainer: (imageId: string) => boolean,
): Array<{ record: ImageRecord; names: string[] }> {
  const candidates: Array<{ record: ImageRecord; names: string[] }> = [];
  for (const record of records) {
    if (usedByContainer(record.id)) continue;
    if (selection.danglingOnly && record.repoTags.length > 0) continue;
    if (!matchesPruneFilters(record, selection)) continue;
    candidates.push({ record, names: [...record.repoTags, ...record.repoDigests] });
  }
  return candidates;
}

export interface ImagePrunerOptions {
  images: Pick<ImageService, 'list' | 'remove'>;
  /** The layer store's sizes, read before anything goes (SpaceReclaimed counts deleted layers). */
  layers: { list(): Array<{ chainId: string; size: number }> };
  publish: Publish;
}

export class ImagePruner {
  private running = false;

  constructor(private readonly options: ImagePrunerOptions) {}

  async prune(filters: ReadonlyMap<string, readonly string[]>, usedByContainer: (imageId: string) => boolean, now = new Date()): Promise<ImagePruneReport> {
    if (this.running) throw conflict('a prune operation is already running');
    const selection = parsePruneFilters(filters, now);
    this.running = true;
    try {
      const sizes = new Map(this.options.layers.list().map((layer) => [layer.chainId, layer.size]));
      const deleted: DeleteResult[] = [];
      for (const { record, names } of pruneCandidates(this.options.images.list(), selection, usedByContainer)) {
        const targets = names.length > 0 ? names : [record.id];
        for (const target of targets) {
          try {
            deleted.push(...await this.options.images.remove(target, { force: false, noPrune: false }));
          } catch (error) {
            if (isConflict(error) || isNotFound(error)) continue;
            process.stderr.write(`berthd: failed to prune image ${target}: ${(error as Error).message}\n`);
          }
        }
      }
      let reclaimed = 0;
      for (const item of deleted) if (item.Deleted) reclaimed += sizes.get(item.Deleted) ?? 0;
      this.options.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
      return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
    } finally {
      this.running = false;
    }
  }
}
