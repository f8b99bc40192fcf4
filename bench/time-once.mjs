// Runs a command once and prints its wall time as a trace line (`trace op=LABEL total=MS`),
// for bench/breakdown.sh's reference measures.
//   node bench/time-once.mjs LABEL COMMAND [ARG...]
import { spawnSync } from 'node:child_process';

const [label, command, ...args] = process.argv.slice(2);
const started = process.hrtime.bigint();
const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
const ms = Number(process.hrtime.bigint() - started) / 1e6;
if (result.status !== 0) {
  process.stderr.write(`${label}: ${command} failed (${result.error?.message ?? `exit ${result.status}`})\n`);
  process.exit(1);
}
process.stdout.write(`trace op=${label.replace(/[\s=]+/g, '_')} total=${ms.toFixed(2)}\n`);
