#!/usr/bin/env bash
# A quick, untyped build for working on one part while the rest of the tree is in flux:
# bundles berth, berthd and one or more test files with esbuild (no tsc) into OUTDIR, so
# that an integration test can run against it with BERTH_DIST=OUTDIR.
#
#   scripts/dev-bundle.sh OUTDIR [test/integration/x.test.ts ...]
#   node --test OUTDIR/x.test.mjs
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
out=${1:?usage: scripts/dev-bundle.sh OUTDIR [TEST.ts ...]}
shift
mkdir -p "$out"
opts=(--bundle --platform=node --format=esm --target=node20 --log-level=warning --external:bufferutil --external:utf-8-validate)
banner="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
# berth.js and berthd.js are CommonJS as in dist/ (scripts/build.mjs), without the CLI's code cache.
cjs=(--bundle --platform=node --format=cjs --target=node20 --log-level=warning --external:bufferutil --external:utf-8-validate
  --define:import.meta.url=importMeta.url --inject:scripts/cjs-import-meta-url.js)
echo '{ "type": "commonjs" }' > "$out/package.json"
npx esbuild src/cli/main.ts "${cjs[@]}" --outfile="$out/berth.js"
npx esbuild src/daemon/main.ts "${cjs[@]}" --outfile="$out/berthd.js"
cp src/containers/seccomp-default.json "$out/"
for test in "$@"; do
  name=$(basename "$test" .ts)
  npx esbuild "$test" "${opts[@]}" \
    "--banner:js=$banner" --outfile="$out/$name.mjs"
done
