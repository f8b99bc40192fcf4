// The Engine API's encodings on the client side: query strings as the Go client writes them,
// the filters JSON of docker's --filter flags, and newline-delimited JSON streams (events, progress).
import type { Readable } from 'node:stream';

export type QueryValue = string | number | boolean | string[] | null | undefined;
export type Query = Record<string, QueryValue>;

/**
 * Like the Go client: `true` becomes "1", `false`/undefined/null are left out, arrays repeat
 * the key. Pass "0"/"false" as a string when the daemon needs an explicit false.
 */
export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === false) continue;
    if (value === true) params.append(key, '1');
    else if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Docker's filter flags ("key=value", repeatable) as the API's filters JSON. */
export function encodeFilters(filters: string[] | Record<string, string[]>): string | undefined {
  let map: Record<string, string[]>;
  if (Array.isArray(filters)) {
    map = {};
    for (const filter of filters) {
      const eq = filter.indexOf('=');
      if (eq === -1) throw new Error(`bad format of filter (expected name=value)`);
      const key = filter.slice(0, eq).trim().toLowerCase();
      const value = filter.slice(eq + 1).trim();
      (map[key] ??= []).push(value);
    }
  } else {
    map = filters;
  }
  return Object.keys(map).length > 0 ? JSON.stringify(map) : undefined;
}

/** Newline-delimited JSON values from a stream (events, progress messages). */
export async function* readJsonLines<T>(stream: Readable): AsyncGenerator<{ value: T; raw: string }> {
  let pending = '';
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString();
    // The daemon may send several values per line or split one across chunks; decode what is complete.
    for (;;) {
      const end = findJsonEnd(pending);
      if (end === -1) break;
      const raw = pending.slice(0, end).trim();
      pending = pending.slice(end);
      if (raw) yield { value: JSON.parse(raw) as T, raw };
    }
  }
  const rest = pending.trim();
  if (rest) yield { value: JSON.parse(rest) as T, raw: rest };
}

/** Index just past the first complete top-level JSON value in text, or -1. */
function findJsonEnd(text: string): number {
  let depth = 0;
  let inString = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      started = true;
    } else if (c === '{' || c === '[') {
      depth++;
      started = true;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (!started && c !== undefined && !/\s/.test(c)) {
      started = true;
    } else if (started && depth === 0 && /\s/.test(c!)) {
      return i;
    }
  }
  return -1;
}
