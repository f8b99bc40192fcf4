// Reads trace lines (berthd's log, the CLI's stderr, bench/time-once.mjs's output) and prints
// the median of each phase per operation (src/util/trace.ts does the parsing and the sums).
//   node bench/breakdown.mjs FILE...
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = process.env.BENCH_DIST ? join(process.env.BENCH_DIST, 'tsc') : join(repo, 'dist', 'tsc');
const { aggregateTraces, formatTraceSummary, parseTraceLine } = await import(join(dist, 'src/util/trace.js'));

const lines = process.argv.slice(2).flatMap((file) => readFileSync(file, 'utf8').split('\n'));
const parsed = lines.map((line) => parseTraceLine(line)).filter((line) => line !== undefined);
// Requests that only serve the CLI's bookkeeping stay in: every round trip counts.
console.log(formatTraceSummary(aggregateTraces(parsed)));
