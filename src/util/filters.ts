// Docker's filter matching (moby api/types/filters) shared by the list, prune and event filters.

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
