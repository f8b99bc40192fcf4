// Type-checks and compiles everything with tsc (tests run from dist/tsc), then bundles the
// two entry points with esbuild so that `berth version` loads one file, not hundreds.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { build } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

// The request-body validators are compiled here, never at the daemon's start-up.
execFileSync(process.execPath, ['scripts/gen-validators.mjs'], { stdio: 'inherit' });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
mkdirSync('dist', { recursive: true });
rmSync('dist/chunks', { recursive: true, force: true });
// The bundles are CommonJS: node starts a CommonJS file without its ES module loader, and only
// a CommonJS script can be compiled from V8's code cache (vm.Script). dist/tsc stays ES modules.
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
writeFileSync('dist/tsc/package.json', '{ "type": "module" }\n');
const common = {
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'linked', logLevel: 'warning',
  // ws's optional native speed-ups; it works without them.
  external: ['bufferutil', 'utf-8-validate'],
  define: { 'import.meta.url': 'importMeta.url' },
  inject: ['scripts/cjs-import-meta-url.js'],
};
// The CLI is one bundle run by dist/berth.js from V8's code cache (scripts/cli-entry.cjs). Each
// command's modules are evaluated only when it runs (main.ts imports them with import()), so
// `berth version` runs a fraction of it; one file and no module loader is what starts fastest.
// Minified: less to read and to deserialize at every start (stack traces map back through
// dist/berth-cli.js.map with node --enable-source-maps).
const cli = await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/berth-cli.js', minify: true, metafile: true });
// vm.Script runs the bundle without a module loader: import() of a module left outside the
// bundle (a node:x built-in) would fail at run time; src/util/builtins.ts loads those instead.
for (const output of Object.values(cli.metafile.outputs)) {
  const dynamic = output.imports.filter((imported) => imported.external && imported.kind === 'dynamic-import');
  if (dynamic.length > 0) throw new Error(`dist/berth-cli.js: import() of ${dynamic.map((imported) => imported.path).join(', ')}; use loadBuiltin (src/util/builtins.ts)`);
}
const bundleSha256 = createHash('sha256').update(readFileSync('dist/berth-cli.js')).digest('hex');
writeFileSync('dist/berth.js', readFileSync('scripts/cli-entry.cjs', 'utf8').replace('@BUNDLE_SHA256@', bundleSha256));
// berthd: whitespace and syntax minified, names kept (stack traces stay readable): node keeps
// the whole source in the heap, 0.95 MB instead of 1.5 MB. Started as a program (start.sh,
// bench/run.sh), it gets glibc's malloc with 2 arenas instead of up to 8 per core: libuv's
// threads otherwise each keep an arena of freed memory (docs/performance.md, "Idle memory").
// `env -S` is GNU coreutils' (8.30 and later).
await build({
  ...common, entryPoints: ['src/daemon/main.ts'], outfile: 'dist/berthd.js', minifyWhitespace: true, minifySyntax: true,
  banner: { js: '#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node' },
});
for (const out of ['dist/berth.js', 'dist/berthd.js']) chmodSync(out, 0o755);
copyFileSync('src/containers/seccomp-default.json', 'dist/seccomp-default.json');
// crun runs through this launcher (src/runtime/oci-runtime.ts: from a sealed copy, and with the
// cgroup2 mount hidden on a hybrid host); without a C compiler berthd runs crun itself, or
// through unshare and sh on a hybrid host, which is slower.
try {
  execFileSync('cc', ['-O2', '-Wall', '-o', 'dist/berth-runtime-launcher', 'native/runtime-launcher.c', 'native/ns-exec.c'], { stdio: 'inherit' });
} catch (error) {
  rmSync('dist/berth-runtime-launcher', { force: true });
  console.warn(`build: native/runtime-launcher.c not compiled (${error.message}); crun will use the slower unshare+sh launcher`);
}
// The copy-up of new volumes (src/volumes/copy-up.ts); without it berthd copies with `cp -a`, which is slower.
try {
  execFileSync('cc', ['-O2', '-Wall', '-o', 'dist/berth-copy-tree', 'native/copy-tree.c'], { stdio: 'inherit' });
} catch (error) {
  rmSync('dist/berth-copy-tree', { force: true });
  console.warn(`build: native/copy-tree.c not compiled (${error.message}); volume copy-ups will use cp -a`);
}
// dist/berth, the CLI a user runs: node dist/berth.js without node's parse of NODE_EXTRA_CA_CERTS
// at every start (native/cli-launcher.c). Without a C compiler, a shell script does the same
// for one more process.
try {
  execFileSync('cc', ['-O2', '-Wall', '-o', 'dist/berth', 'native/cli-launcher.c'], { stdio: 'inherit' });
} catch (error) {
  console.warn(`build: native/cli-launcher.c not compiled (${error.message}); dist/berth is a shell script`);
  writeFileSync('dist/berth', [
    '#!/bin/sh',
    '# berth: node dist/berth.js, with NODE_EXTRA_CA_CERTS moved aside (native/cli-launcher.c says why).',
    'if [ -n "${NODE_EXTRA_CA_CERTS+set}" ]; then BERTH_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export BERTH_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; else unset BERTH_EXTRA_CA_CERTS; fi',
    'exec node "$(dirname -- "$(readlink -f -- "$0")")/berth.js" "$@"',
    '',
  ].join('\n'));
  chmodSync('dist/berth', 0o755);
}
// The first run writes the code cache; at build time, so that no user's first command pays it.
// A command through the client to a socket where no daemon listens compiles what most commands
// run (flags, context, client, connection), and it fails as expected.
rmSync('dist/berth-cli.cache', { force: true });
const noDaemon = spawnSync(process.execPath, ['dist/berth.js', '-H', 'unix:///nonexistent/berth-build.sock', 'version'], { stdio: 'ignore' });
if (noDaemon.status !== 1 || !existsSync('dist/berth-cli.cache')) throw new Error(`dist/berth.js: the code cache was not written (exit ${noDaemon.status})`);
