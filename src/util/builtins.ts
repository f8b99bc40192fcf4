// Node's built-in modules that only some code paths need, loaded when first asked for: each one
// loaded at start-up costs every berth command time (node:https ~10 ms, node:crypto ~4 ms,
// node:child_process and node:fs/promises ~2 ms each; docs/performance.md). Async code can use
// `await import('node:x')` instead; this is for the synchronous paths.
import { createRequire } from 'node:module';

let requireHere: NodeJS.Require | undefined;

/** The built-in module `name` (`loadBuiltin<typeof Crypto>('node:crypto')`), loaded on the first call. */
export function loadBuiltin<T>(name: `node:${string}`): T {
  requireHere ??= createRequire(import.meta.url);
  return requireHere(name) as T;
}
