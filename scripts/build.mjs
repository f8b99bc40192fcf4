// Type-checks and compiles everything with tsc (tests run from dist/tsc), then bundles the
// two entry points with esbuild so that `berth version` loads one file, not hundreds.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
mkdirSync('dist', { recursive: true });
for (const [entry, out] of [['src/cli/main.ts', 'dist/berth.js'], ['src/daemon/main.ts', 'dist/berthd.js']]) {
  await build({
    entryPoints: [entry], outfile: out, bundle: true, platform: 'node', target: 'node20',
    format: 'esm', sourcemap: 'linked', logLevel: 'warning',
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  chmodSync(out, 0o755);
}
copyFileSync('src/containers/seccomp-default.json', 'dist/seccomp-default.json');
