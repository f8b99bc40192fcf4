// Container prune (POST /containers/prune): removes the stopped containers (created, exited,
// dead; never running, paused or restarting ones) by Docker's rules. until=<time|duration>
// keeps containers created after it; label=k[=v] and label!=k[=v] select on config labels.
// SpaceReclaimed is the removed containers' writable layers (SizeRw), measured before removal.
// Each removal is the usual one (its destroy event); a container that went away or started
// meanwhile is just skipped. One prune runs at a time.
import { badParameter, conflict, isConflict, isNotFound } from '../errdefs/errors.js';
import type { ContainerPruneReport } from '../wire/types.js';
import type { Publish } from '../events/bus.js';
import { assertFilterKeys, createdBefore, matchLabelList, parseUntilFilter, type Filters } from '../util/filters.js';
import type { ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';

const ACCEPTED_FILTERS = ['label', 'label!', 'until'];

export interface ContainerPruneSelection {
  /** Unix seconds; containers created after it stay. */
  until?: number;
  labels: string[];
  notLabels: string[];
}

/** The prune filters, validated as Docker validates them (400 with its wording). */
export function parseContainerPruneFilters(filters: Filters, now: Date): ContainerPruneSelection {
  assertFilterKeys(filters, ACCEPTED_FILTERS, badParameter);
  return {
    until: parseUntilFilter(filters.get('until'), now, badParameter),
    labels: [...(filters.get('label') ?? [])],
    notLabels: [...(filters.get('label!') ?? [])],
  };
}

/** The containers a prune removes: stopped ones that pass the time and label filters. */
export function containerPruneCandidates(records: readonly ContainerRecord[], selection: ContainerPruneSelection): ContainerRecord[] {
  return records.filter((record) => {
    if (record.state.Running || record.state.Paused || record.state.Restarting || record.state.Status === 'removing') return false;
    if (!createdBefore(record.created, selection.until)) return false;
    const labels = record.config.Labels ?? {};
    if (!matchLabelList(selection.labels, labels)) return false;
    return !(selection.notLabels.length > 0 && matchLabelList(selection.notLabels, labels));
  });
}

export class ContainerPruner {
  private running = false;

  constructor(private readonly containers: Pick<ContainerService, 'all' | 'sizes' | 'remove'>, private readonly publish: Publish) {}

  async prune(filters: Filters, now = new Date()): Promise<ContainerPruneReport> {
    if (this.running) throw conflict('a prune operation is already running');
    const selection = parseContainerPruneFilters(filters, now);
    this.running = true;
    try {
      const deleted: string[] = [];
      let reclaimed = 0;
      for (const record of containerPruneCandidates(this.containers.all(), selection)) {
        try {
          const { SizeRw } = await this.containers.sizes(record);
          await this.containers.remove(record.id, { force: false, volumes: false });
          deleted.push(record.id);
          reclaimed += SizeRw;
        } catch (error) {
          if (isConflict(error) || isNotFound(error)) continue;
          process.stderr.write(`berthd: failed to prune container ${record.id}: ${(error as Error).message}\n`);
        }
      }
      this.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
      return { ContainersDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
    } finally {
      this.running = false;
    }
  }
}
