// The programs scripts/build.mjs compiles from native/ next to the daemon's bundle (dist/): found
// beside the bundle, or from dist/tsc/src/<folder>/ when the modules run unbundled (unit tests).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The path of the compiled program `name` (e.g. berth-copy-tree), or undefined where it was not built. */
export function nativeProgram(name: string): string | undefined {
  const candidates = [`./${name}`, `../../../${name}`].map((relative) => fileURLToPath(new URL(relative, import.meta.url)));
  return candidates.find((path) => existsSync(path));
}
