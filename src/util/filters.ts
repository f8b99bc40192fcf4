// Docker's filter matching (moby api/types/filters) shared by the list, prune and event filters.
import { parseDurationOrTimestamp } from './units.js';

/** filters.MatchKVList: every "key" or "key=value" of the list holds for the labels (an empty list holds). */
export function matchLabelList(list: readonly string[], labels: Readonly<Record<string, string>>): boolean {
  if (list.length === 0) return true;
  if (Object.keys(labels).length === 0) return false;
  return list.every((item) => {
    const equals = item.indexOf('=');
    const key = equals === -1 ? item : item.slice(0, equals);
    if (!(key in labels)) return false;
    return equals === -1 || labels[key] === item.slice(equals + 1);
  });
}

/** Docker's `filters` argument: each key with the values asked for. */
export type Filters = Map<string, string[]>;

/** Every key must be one the list understands (moby's filters.Validate). */
export function assertFilterKeys(filters: Filters, allowed: readonly string[], invalid: (message: string) => Error): void {
  for (const key of filters.keys()) if (!allowed.includes(key)) throw invalid(`invalid filter '${key}'`);
}

/** A prune's `until` filter (one at most) as Unix seconds: what was created after it stays. */
export function parseUntilFilter(values: readonly string[] | undefined, now: Date, invalid: (message: string) => Error): number | undefined {
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw invalid('more than one until filter specified');
  try {
    return parseDurationOrTimestamp(values[0]!, now);
  } catch (error) {
    throw invalid(`invalid value for 'until' filter: ${(error as Error).message}`);
  }
}

/** Whether something created at `created` (RFC 3339) is old enough for an `until` prune. */
export function createdBefore(created: string | undefined, until: number | undefined): boolean {
  if (until === undefined) return true;
  const seconds = created ? Date.parse(created) / 1000 : Number.NaN;
  return !Number.isNaN(seconds) && seconds <= until;
}
