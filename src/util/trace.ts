// Where the time of one operation goes: off by default; with BERTH_TRACE=1 in the environment
// (berthd or the berth CLI), each operation writes one line to stderr (berthd's log):
//
//   trace op=POST_/containers/{}/start total=41.20 record.save=3.10 hook.rootfs.prepare=9.80 ...
//
// An operation (an API request in berthd, a command in the CLI) is opened with traceOperation;
// code below it, however deep, times its phases with traced()/traceRecord() without being
// handed anything: the current operation follows the async context (AsyncLocalStorage).
// Phases may nest or overlap (a record save contains its fsyncs); a phase that happens more
// than once in an operation adds up, and `name#` counts its occurrences when it is above one.
// Without tracing, traced() is one comparison and a call: cheap enough to leave in hot paths.
// bench/breakdown.sh reads these lines back (parseTraceLine, aggregateTraces) into medians.
import { AsyncLocalStorage } from 'node:async_hooks';
// `performance` is node's global: it loads node:perf_hooks on first use, not at every CLI start.

export const TRACE_ENABLED = process.env.BERTH_TRACE === '1';

class Trace {
  readonly started = performance.now();
  readonly phases = new Map<string, { ms: number; count: number }>();

  add(name: string, ms: number): void {
    const phase = this.phases.get(name);
    if (phase) {
      phase.ms += ms;
      phase.count += 1;
    } else {
      this.phases.set(name, { ms, count: 1 });
    }
  }
}

const current = new AsyncLocalStorage<Trace>();
let sink: (line: string) => void = (line) => { process.stderr.write(`${line}\n`); };

/** Where trace lines go (tests collect them). */
export function setTraceSink(write: (line: string) => void): void {
  sink = write;
}

/** Runs `fn` as one traced operation; writes its line when it settles. */
export function traceOperation<T>(operation: string, fn: () => Promise<T>, enabled = TRACE_ENABLED): Promise<T> {
  if (!enabled) return fn();
  const trace = new Trace();
  return current.run(trace, async () => {
    try {
      return await fn();
    } finally {
      sink(formatTraceLine(operation, performance.now() - trace.started, trace.phases));
    }
  });
}

/** Times `fn` as a phase of the current operation (none: just runs it). */
export function traced<T>(phase: string, fn: () => Promise<T>): Promise<T> {
  const trace = current.getStore();
  if (!trace) return fn();
  const started = performance.now();
  const done = () => trace.add(phase, performance.now() - started);
  const result = fn();
  result.then(done, done);
  return result;
}

/** Adds a phase measured elsewhere (e.g. between two events) to the current operation. */
export function traceRecord(phase: string, ms: number): void {
  current.getStore()?.add(phase, ms);
}

/** performance.now(), for phases measured with traceRecord. */
export function traceNow(): number {
  return performance.now();
}

/** Whether code runs inside a traced operation (to skip work done only for the trace). */
export function tracing(): boolean {
  return current.getStore() !== undefined;
}

// ---- the line, read back and aggregated (pure) ---------------------------------------------------

/** Makes a name safe for the `key=value` line: no spaces, no '='. */
export function traceName(text: string): string {
  return text.replace(/[\s=]+/g, '_');
}

export function formatTraceLine(operation: string, totalMs: number, phases: Map<string, { ms: number; count: number }>): string {
  const parts = [`trace op=${traceName(operation)}`, `total=${totalMs.toFixed(2)}`];
  for (const [name, phase] of phases) {
    parts.push(`${traceName(name)}=${phase.ms.toFixed(2)}`);
    if (phase.count > 1) parts.push(`${traceName(name)}#=${phase.count}`);
  }
  return parts.join(' ');
}

export interface TraceLine {
  operation: string;
  /** Phase -> ms, `total` included; `name#` counts are left out. */
  phases: Map<string, number>;
}

/** Reads a line written by formatTraceLine (anywhere in a log line), or undefined. */
export function parseTraceLine(line: string): TraceLine | undefined {
  const at = line.indexOf('trace op=');
  if (at < 0) return undefined;
  const fields = line.slice(at + 'trace '.length).trim().split(/\s+/);
  let operation: string | undefined;
  const phases = new Map<string, number>();
  for (const field of fields) {
    const equals = field.indexOf('=');
    if (equals <= 0) continue;
    const key = field.slice(0, equals);
    const value = field.slice(equals + 1);
    if (key === 'op') operation = value;
    else if (!key.endsWith('#')) {
      const ms = Number(value);
      if (Number.isFinite(ms)) phases.set(key, ms);
    }
  }
  return operation === undefined ? undefined : { operation, phases };
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface PhaseSummary {
  phase: string;
  /** Median over the operations that had this phase. */
  medianMs: number;
  /** How many of the operations had it. */
  seen: number;
}

export interface OperationSummary {
  operation: string;
  count: number;
  /** `total` first, then the phases in the order they first appeared. */
  phases: PhaseSummary[];
}

/** Medians per operation and phase, operations in the order they first appeared. */
export function aggregateTraces(lines: Iterable<TraceLine>): OperationSummary[] {
  const byOperation = new Map<string, { count: number; phases: Map<string, number[]> }>();
  for (const line of lines) {
    let entry = byOperation.get(line.operation);
    if (!entry) {
      entry = { count: 0, phases: new Map([['total', []]]) };
      byOperation.set(line.operation, entry);
    }
    entry.count += 1;
    for (const [phase, ms] of line.phases) {
      let values = entry.phases.get(phase);
      if (!values) {
        values = [];
        entry.phases.set(phase, values);
      }
      values.push(ms);
    }
  }
  return [...byOperation].map(([operation, entry]) => ({
    operation,
    count: entry.count,
    phases: [...entry.phases].filter(([, values]) => values.length > 0).map(([phase, values]) => ({ phase, medianMs: median(values), seen: values.length })),
  }));
}

/** The aggregate as an aligned text table, one block per operation. */
export function formatTraceSummary(summaries: OperationSummary[]): string {
  const lines: string[] = [];
  for (const summary of summaries) {
    lines.push(`${summary.operation} (${summary.count}x)`);
    for (const phase of summary.phases) {
      const seen = phase.seen === summary.count ? '' : `  (in ${phase.seen} of ${summary.count})`;
      lines.push(`  ${phase.phase.padEnd(34)} ${phase.medianMs.toFixed(1).padStart(8)} ms${seen}`);
    }
  }
  return lines.join('\n');
}
