// Reading a container's log. conmon writes it in the k8s-file format, one record a line:
//   2024-01-02T03:04:05.123456789+00:00 stdout F the text
// where F is a full line and P a partial one (more of the same line follows in the next
// record). Readers turn records back into the bytes the process wrote, tagged by stream.
import { open, stat } from 'node:fs/promises';
import { watch } from 'node:fs';

export type StreamName = 'stdout' | 'stderr';

export interface LogEntry {
  stream: StreamName;
  /** RFC 3339 with nanoseconds, UTC. */
  timestamp: string;
  timeNs: bigint;
  /** The bytes as written, newline included for full lines. */
  text: string;
}

/** Parses one k8s-file record; undefined for a malformed line. */
export function parseLogLine(line: string): LogEntry | undefined {
  const first = line.indexOf(' ');
  const second = line.indexOf(' ', first + 1);
  const third = line.indexOf(' ', second + 1);
  if (first < 0 || second < 0) return undefined;
  const timestamp = line.slice(0, first);
  const stream = line.slice(first + 1, second);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const flag = third < 0 ? line.slice(second + 1) : line.slice(second + 1, third);
  const content = third < 0 ? '' : line.slice(third + 1);
  return { stream, timestamp: normalizeTimestamp(timestamp), timeNs: timestampToNs(timestamp), text: flag === 'P' ? content : content + '\n' };
}

/** RFC 3339 with nanoseconds in UTC ("Z"), the form Docker prints with `logs -t`. */
export function normalizeTimestamp(stamp: string): string {
  const ns = timestampToNs(stamp);
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

export function timestampToNs(stamp: string): bigint {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!match) return 0n;
  const ms = Date.parse(`${match[1]}${match[3]}`);
  const fraction = BigInt((match[2] ?? '0').padEnd(9, '0').slice(0, 9));
  return BigInt(ms) * 1_000_000n + fraction;
}

export interface LogReadOptions {
  stdout: boolean;
  stderr: boolean;
  /** Entries strictly after this many ns since the epoch. */
  sinceNs?: bigint;
  /** Entries not after this many ns since the epoch. */
  untilNs?: bigint;
  /** Only the last N entries ("all" = undefined). */
  tail?: number;
  /** Start reading at this byte offset (attach reads only the current run's output). */
  offset?: number;
}

function wanted(entry: LogEntry, options: LogReadOptions): boolean {
  if (entry.stream === 'stdout' ? !options.stdout : !options.stderr) return false;
  if (options.sinceNs !== undefined && entry.timeNs <= options.sinceNs) return false;
  if (options.untilNs !== undefined && entry.timeNs > options.untilNs) return false;
  return true;
}

/** Reads complete records from `offset`; returns them and where the next read starts. */
async function readRecords(path: string, offset: number): Promise<{ entries: LogEntry[]; next: number }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { entries: [], next: offset };
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return { entries: [], next: offset };
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    const text = buffer.subarray(0, bytesRead);
    const lastNewline = text.lastIndexOf(0x0a);
    if (lastNewline < 0) return { entries: [], next: offset };
    const entries: LogEntry[] = [];
    for (const line of text.subarray(0, lastNewline).toString('utf8').split('\n')) {
      const entry = parseLogLine(line);
      if (entry) entries.push(entry);
    }
    return { entries, next: offset + lastNewline + 1 };
  } finally {
    await handle.close();
  }
}

export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * Yields the log's entries; with `follow`, keeps yielding new ones until `done` resolves
 * (the container stopped), then drains what is left and ends.
 */
export async function* readLog(path: string, options: LogReadOptions, follow?: { done: Promise<unknown>; signal: AbortSignal }): AsyncGenerator<LogEntry> {
  let { entries, next } = await readRecords(path, options.offset ?? 0);
  let selected = entries.filter((entry) => wanted(entry, options));
  if (options.tail !== undefined) selected = options.tail <= 0 ? [] : selected.slice(-options.tail);
  yield* selected;
  if (!follow) return;
  let finished = false;
  // One reaction on `done` for the whole read: one per wait would pile up on a long-running container.
  const ended = new AbortController();
  void follow.done.then(() => { finished = true; ended.abort(); });
  while (!follow.signal.aborted) {
    const wasFinished = finished;
    ({ entries, next } = await readRecords(path, next));
    for (const entry of entries) if (wanted(entry, options)) yield entry;
    if (wasFinished) return;
    if (entries.length === 0) await changeOrTimeout(path, ended.signal, follow.signal);
  }
}

/** Resolves when the file changes, the container stops (`done`), the reader goes, or 250 ms pass. */
function changeOrTimeout(path: string, done: AbortSignal, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    let watcher: ReturnType<typeof watch> | undefined;
    const wake = () => {
      watcher?.close();
      clearTimeout(timer);
      done.removeEventListener('abort', wake);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    try {
      watcher = watch(path, wake);
      // A watch that fails (the log removed with its container) only ends this wait.
      watcher.on('error', wake);
    } catch { /* the file may not exist yet */ }
    // Polling backs up inotify: a write between the last read and the watch is not missed.
    const timer = setTimeout(wake, 250);
    if (done.aborted || signal.aborted) return wake();
    done.addEventListener('abort', wake, { once: true });
    signal.addEventListener('abort', wake, { once: true });
  });
}
