// `docker ps`: which containers a list request selects (moby's daemon/list.go), in Docker's
// order (newest first), with its filters' rules and error wording.
import { ZERO_TIME, type ContainerSummary } from '../wire/types.js';
import { badParameter } from '../errdefs/errors.js';
import { assertFilterKeys, matchLabelList, type Filters } from '../util/filters.js';
import type { ContainerRecord } from './record.js';

export interface ContainerListOptions {
  all: boolean;
  limit?: number;
  size: boolean;
  filters: Filters;
}

/** What listing needs: the records, their summaries and sizes, and image references resolved to IDs. */
export interface ContainerListSource {
  all(): ContainerRecord[];
  get(reference: string): ContainerRecord;
  summary(record: ContainerRecord): ContainerSummary;
  sizes(record: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }>;
  imageId(reference: string): string | undefined;
}

const FILTER_KEYS = ['id', 'name', 'label', 'status', 'exited', 'ancestor', 'before', 'since', 'health', 'isolation', 'network', 'publish', 'expose', 'volume', 'is-task'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export async function listContainers(source: ContainerListSource, options: ContainerListOptions): Promise<ContainerSummary[]> {
  const { filters, limit } = options;
  assertFilterKeys(filters, FILTER_KEYS, badParameter);
  const all = options.all || (limit !== undefined && limit > 0) || filters.has('status') || filters.has('exited');
  for (const status of filters.get('status') ?? []) {
    if (!STATUSES.includes(status)) throw badParameter(`invalid filter 'status=${status}'`);
  }
  const ancestors = (filters.get('ancestor') ?? []).map((reference) => source.imageId(reference) ?? `unknown:${reference}`);
  const before = filters.get('before')?.map((reference) => source.get(reference).created);
  const since = filters.get('since')?.map((reference) => source.get(reference).created);
  let records = source.all()
    .filter((record) => all || record.state.Running)
    .filter((record) => matchesFilters(record, filters, ancestors))
    .filter((record) => !before || before.every((created) => record.created < created))
    .filter((record) => !since || since.every((created) => record.created > created))
    .sort((a, b) => (a.created < b.created ? 1 : -1));
  if (limit !== undefined && limit > 0) records = records.slice(0, limit);
  return Promise.all(records.map(async (record) => {
    const summary = source.summary(record);
    return options.size ? { ...summary, ...(await source.sizes(record)) } : summary;
  }));
}

function matchesFilters(record: ContainerRecord, filters: Filters, ancestorIds: string[]): boolean {
  const any = (key: string, predicate: (value: string) => boolean) => !filters.has(key) || filters.get(key)!.some(predicate);
  const labels = record.config.Labels ?? {};
  return any('id', (value) => record.id.startsWith(value))
    && any('name', (value) => new RegExp(value).test(record.name))
    && matchLabelList(filters.get('label') ?? [], labels)
    && any('status', (value) => record.state.Status === value)
    && any('health', (value) => (record.state.Health?.Status ?? 'none') === value)
    && any('exited', (value) => !record.state.Running && record.state.StartedAt !== ZERO_TIME && record.state.ExitCode === Number(value))
    // moby's volume filter: a volume's name or any mount's destination.
    && any('volume', (value) => (record.mountPoints ?? []).some((mount) => mount.Name === value || mount.Destination === value))
    && (ancestorIds.length === 0 || ancestorIds.includes(record.image));
}
