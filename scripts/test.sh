#!/usr/bin/env bash
# `npm test`: installs what is missing (test extras too), builds, then runs the unit and
# integration tests with node's test runner from the compiled tree (dist/tsc).
#
#   scripts/test.sh                  every test under test/unit and test/integration
#   scripts/test.sh unit             only test/unit (or: integration)
#   scripts/test.sh test/unit/x.test.ts ...   only these files
#
# Exits non-zero when setup, the build or any test fails.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh --test

# The files to run are derived from the sources, not by listing dist/tsc: tsc never
# deletes the output of a removed or renamed test, and such stale files must not run.
sources=()
if [ $# -eq 0 ]; then
  set -- unit integration
fi
for arg in "$@"; do
  case $arg in
    unit|integration)
      [ -d "test/$arg" ] || continue
      while IFS= read -r file; do sources+=("$file"); done \
        < <(find "test/$arg" -type f -name '*.test.ts' | LC_ALL=C sort) ;;
    *.test.ts)
      [ -f "$arg" ] || { echo "test: no such test file: $arg" >&2; exit 2; }
      sources+=("${arg#./}") ;;
    *) echo "test: expected unit, integration or a test/**/*.test.ts file, got: $arg" >&2; exit 2 ;;
  esac
done

if [ ${#sources[@]} -eq 0 ]; then
  echo "test: no test files found under test/unit or test/integration"
  exit 0
fi

compiled=()
for src in "${sources[@]}"; do
  js="dist/tsc/${src%.ts}.js"
  [ -f "$js" ] || { echo "test: $js is missing after the build (was $src compiled?)" >&2; exit 1; }
  compiled+=("$js")
done

# One file at a time: integration tests start daemons, mount and create network devices,
# and on this 2-core machine running unit files in parallel gains little.
# --test-timeout bounds each test and, in node 20, each file as a whole, well inside CI's
# limit for the run; --test-force-exit keeps a file that leaves a handle open from hanging.
reporter=tap
[ -t 1 ] && reporter=spec
log=$(mktemp /tmp/berth-test-output.XXXXXX)
trap 'rm -f "$log"' EXIT
set +e
node --test --test-concurrency=1 --test-force-exit \
  --test-timeout="${BERTH_TEST_TIMEOUT_MS:-600000}" \
  --test-reporter="$reporter" --test-reporter-destination=stdout \
  "${compiled[@]}" | tee "$log"
status=${PIPESTATUS[0]}
set -e

# With --test-force-exit node 20 leaves off the last line of its summary, so the totals
# are repeated as one plain line (cancelled tests, such as timeouts, count as failed).
awk '
  { gsub(/\033\[[0-9;]*m/, "") }
  /^(# |ℹ )(pass|fail|cancelled|skipped|todo) [0-9]+$/ { n[$2] = $3 }
  END {
    printf "tests: %d passed, %d failed, %d skipped\n", n["pass"], n["fail"] + n["cancelled"], n["skipped"] + n["todo"]
  }' "$log"
exit "$status"
