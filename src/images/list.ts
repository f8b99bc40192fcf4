// `docker images`: which images a list request selects (moby's daemon/images/images.go), newest
// first, with the filters' rules and error wording.
import type { ImageSummary } from '../wire/types.js';
import { badParameter } from '../errdefs/errors.js';
import { assertFilterKeys, matchLabelList, type Filters } from '../util/filters.js';
import type { ImageService } from './service.js';

const FILTER_KEYS = ['dangling', 'label', 'before', 'since', 'reference', 'until'];

/** `containersUsing` counts the containers of each image ID (the summary's Containers). */
export function listImages(images: Pick<ImageService, 'list' | 'resolve' | 'summary'>, filters: Filters, containersUsing: Map<string, number>): ImageSummary[] {
  assertFilterKeys(filters, FILTER_KEYS, badParameter);
  const dangling = filters.get('dangling')?.[0];
  if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling)) throw badParameter(`invalid filter 'dangling=${dangling}'`);
  const wantDangling = dangling === 'true' || dangling === '1';
  const before = filters.get('before')?.map((reference) => images.resolve(reference)?.config.created ?? '');
  const since = filters.get('since')?.map((reference) => images.resolve(reference)?.config.created ?? '');
  const references = filters.get('reference') ?? [];
  return images.list()
    .filter((record) => dangling === undefined || (record.repoTags.length === 0) === wantDangling)
    .filter((record) => matchLabelList(filters.get('label') ?? [], record.config.config?.Labels ?? {}))
    .filter((record) => references.length === 0 || record.repoTags.some((tag) => references.some((pattern) => referenceMatches(pattern, tag))))
    .filter((record) => !before || before.every((created) => (record.config.created ?? '') < created))
    .filter((record) => !since || since.every((created) => (record.config.created ?? '') > created))
    .map((record) => images.summary(record, containersUsing.get(record.id) ?? 0))
    .sort((a, b) => b.Created - a.Created);
}

/** Docker's reference filter: a glob on the familiar name, with or without the tag. */
function referenceMatches(pattern: string, tag: string): boolean {
  const glob = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.')}$`);
  const withoutTag = tag.replace(/:[^:/]+$/, '');
  return glob.test(tag) || glob.test(withoutTag);
}
