// Type-checks and compiles everything with tsc (tests run from dist/tsc), then bundles the
// two entry points with esbuild so that `berth version` loads one file, not hundreds.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';

// The request-body validators are compiled here, never at the daemon's start-up.
execFileSync(process.execPath, ['scripts/gen-validators.mjs'], { stdio: 'inherit' });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
mkdirSync('dist', { recursive: true });
rmSync('dist/chunks', { recursive: true, force: true });
const common = {
  bundle: true, platform: 'node', target: 'node20', format: 'esm', sourcemap: 'linked', logLevel: 'warning',
  // ws's optional native speed-ups; it works without them.
  external: ['bufferutil', 'utf-8-validate'],
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};
// The CLI is split: each command's code is a chunk loaded by its dynamic import() only when
// that command runs, so `berth version` parses a fraction of the client.
await build({ ...common, entryPoints: { berth: 'src/cli/main.ts' }, outdir: 'dist', splitting: true, chunkNames: 'chunks/[name]-[hash]' });
await build({ ...common, entryPoints: ['src/daemon/main.ts'], outfile: 'dist/berthd.js' });
for (const out of ['dist/berth.js', 'dist/berthd.js']) chmodSync(out, 0o755);
copyFileSync('src/containers/seccomp-default.json', 'dist/seccomp-default.json');
// crun on a hybrid cgroup host runs through this launcher (src/runtime/oci-runtime.ts); without
// a C compiler the daemon falls back to the same steps done by unshare and sh.
try {
  execFileSync('cc', ['-O2', '-Wall', '-o', 'dist/berth-runtime-launcher', 'native/runtime-launcher.c'], { stdio: 'inherit' });
} catch (error) {
  rmSync('dist/berth-runtime-launcher', { force: true });
  console.warn(`build: native/runtime-launcher.c not compiled (${error.message}); crun will use the slower unshare+sh launcher`);
}
