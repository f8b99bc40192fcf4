// Reading a container's log. conmon writes it in the k8s-file format, one record a line:
//   2024-01-02T03:04:05.123456789+00:00 stdout F the text
// where F is a full line (the content ends with its newline) and P a partial one (more of the
// same line follows in the next record; conmon adds the newline that ends the record). The
// content is the process's bytes, never text: records are parsed as Buffers, split only at
// the newline that ends each record, which the content of a P record never holds.
// Readers turn records back into the bytes the process wrote, tagged by stream.
import { open, stat } from 'node:fs/promises';
import { watch } from 'node:fs';

export type StreamName = 'stdout' | 'stderr';

export interface LogEntry {
  stream: StreamName;
  /** RFC 3339 with nanoseconds, UTC. */
  timestamp: string;
  timeNs: bigint;
  /** The bytes as written, newline included for full lines. */
  bytes: Buffer;
  /** The record's timestamp as conmon wrote it: the same for every record of one read(). */
  rawTimestamp: string;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const NEWLINE_BYTES = Buffer.from('\n');

/** Parses one k8s-file record (without its ending newline); undefined for a malformed one. */
export function parseLogRecord(record: Buffer): LogEntry | undefined {
  const first = record.indexOf(SPACE);
  const second = first < 0 ? -1 : record.indexOf(SPACE, first + 1);
  if (first < 0 || second < 0) return undefined;
  const third = record.indexOf(SPACE, second + 1);
  const rawTimestamp = record.toString('latin1', 0, first);
  const stream = record.toString('latin1', first + 1, second);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const flag = record.toString('latin1', second + 1, third < 0 ? record.length : third);
  const content = third < 0 ? Buffer.alloc(0) : record.subarray(third + 1);
  return {
    stream, timestamp: normalizeTimestamp(rawTimestamp), timeNs: timestampToNs(rawTimestamp), rawTimestamp,
    // Copies either way: the entry must not hold on to (or change with) the reader's buffer.
    bytes: flag === 'P' ? Buffer.from(content) : Buffer.concat([content, NEWLINE_BYTES]),
  };
}

/**
 * Incremental k8s-file parser: feed it the file's bytes in chunks of any size; it returns the
 * complete records' entries and keeps an unfinished record for the next chunk.
 */
export class K8sLogParser {
  private pending: Buffer[] = [];

  push(chunk: Buffer): LogEntry[] {
    const entries: LogEntry[] = [];
    let start = 0;
    let newline: number;
    while ((newline = chunk.indexOf(NEWLINE, start)) >= 0) {
      let record = chunk.subarray(start, newline);
      if (this.pending.length > 0) {
        record = Buffer.concat([...this.pending, record]);
        this.pending = [];
      }
      const entry = parseLogRecord(record);
      if (entry) entries.push(entry);
      start = newline + 1;
    }
    // A copy: the caller reuses its read buffer.
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
    return entries;
  }

  /** Bytes of an unfinished record waiting for its end. */
  get pendingBytes(): number {
    return this.pending.reduce((sum, part) => sum + part.length, 0);
  }
}

/**
 * Merges consecutive entries of one stream that share conmon's timestamp: conmon stamps every
 * record it makes from one read() of the process's output with the same clock reading (in
 * nanoseconds), and two reads never get the same one, so a merged entry is what one read
 * gave: what the process wrote with one write() when it was small enough (conmon reads up to
 * 8 KiB). Attach and exec frame output so, as Docker frames each read of the process's pipe,
 * instead of one frame per line.
 *
 * Why the log and not conmon's attach socket (which sends each read as a packet): the socket
 * carries output only while a client is connected, so a fast process's output would be lost
 * unless every session were connected before the process starts (Podman's --exec-attach
 * handshake), and output would need a second reader besides the log that `logs` reads
 * anyway. The limits: a write of more than 8 KiB comes as several reads (Docker splits at
 * 32 KiB), and a reader that catches conmon in the middle of writing one read's records
 * frames them in two; the bytes are right either way.
 */
export function mergeReads(entries: LogEntry[]): LogEntry[] {
  const merged: LogEntry[] = [];
  let parts: Buffer[] = [];
  for (const entry of entries) {
    const last = merged[merged.length - 1];
    if (last && last.stream === entry.stream && last.rawTimestamp === entry.rawTimestamp) {
      parts.push(entry.bytes);
      continue;
    }
    if (last && parts.length > 1) last.bytes = Buffer.concat(parts);
    merged.push({ ...entry });
    parts = [entry.bytes];
  }
  const last = merged[merged.length - 1];
  if (last && parts.length > 1) last.bytes = Buffer.concat(parts);
  return merged;
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
  /** One entry per read() conmon made (see mergeReads) instead of one per record. */
  byRead?: boolean;
}

function wanted(entry: LogEntry, options: LogReadOptions): boolean {
  if (entry.stream === 'stdout' ? !options.stdout : !options.stderr) return false;
  if (options.sinceNs !== undefined && entry.timeNs <= options.sinceNs) return false;
  if (options.untilNs !== undefined && entry.timeNs > options.untilNs) return false;
  return true;
}

const READ_CHUNK = 1 << 20;

interface LogReader { parser: K8sLogParser; position: number }

/**
 * Reads what the file holds from the reader's position on, a chunk at a time (a long log is
 * never held whole): yields the entries of the records each chunk completes.
 */
async function* readNew(path: string, reader: LogReader): AsyncGenerator<LogEntry[]> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return;
  }
  try {
    const { size } = await handle.stat();
    if (size <= reader.position) return;
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - reader.position));
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, reader.position);
      if (bytesRead === 0) return;
      reader.position += bytesRead;
      yield reader.parser.push(buffer.subarray(0, bytesRead));
    }
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
  const reader: LogReader = { parser: new K8sLogParser(), position: options.offset ?? 0 };
  /** The wanted entries from the reader's position to the end of the file. */
  async function* pass(byRead: boolean): AsyncGenerator<LogEntry> {
    // The last group of a chunk waits for the next chunk: the read it came from may go on there.
    let held: LogEntry[] = [];
    for await (const entries of readNew(path, reader)) {
      const selected = held.concat(entries.filter((entry) => wanted(entry, options)));
      if (!byRead) {
        yield* selected;
        continue;
      }
      const merged = mergeReads(selected);
      held = merged.length > 0 ? [merged.pop()!] : [];
      yield* merged;
    }
    yield* held;
  }
  if (options.tail === undefined) {
    yield* pass(!!options.byRead);
  } else {
    const tail = Math.max(options.tail, 0);
    let kept: LogEntry[] = [];
    // Read to the end in any case: following goes on from there.
    for await (const entry of pass(false)) {
      if (tail === 0) continue;
      kept.push(entry);
      if (kept.length > 2 * tail) kept = kept.slice(-tail);
    }
    kept = tail > 0 ? kept.slice(-tail) : [];
    yield* options.byRead ? mergeReads(kept) : kept;
  }
  if (!follow) return;
  let finished = false;
  // One reaction on `done` for the whole read: one per wait would pile up on a long-running container.
  const ended = new AbortController();
  void follow.done.then(() => { finished = true; ended.abort(); });
  while (!follow.signal.aborted) {
    const wasFinished = finished;
    let gotEntries = false;
    for await (const entry of pass(!!options.byRead)) {
      gotEntries = true;
      yield entry;
    }
    if (wasFinished) return;
    if (!gotEntries) await changeOrTimeout(path, ended.signal, follow.signal);
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
