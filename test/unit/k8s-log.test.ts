import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { K8sLogParser, mergeReads, parseLogRecord, readLog, type LogEntry } from '../../src/containers/logs.js';

/** What conmon writes for one read() of `data`: one record a line, the last partial unless it ends with a newline. */
function conmonRecords(stamp: string, stream: string, data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    const newline = data.indexOf(0x0a, start);
    const end = newline < 0 ? data.length : newline + 1;
    parts.push(Buffer.from(`${stamp} ${stream} ${newline < 0 ? 'P' : 'F'} `), data.subarray(start, end));
    if (newline < 0) parts.push(Buffer.from('\n'));
    start = end;
  }
  return Buffer.concat(parts);
}

const join = (entries: LogEntry[]) => Buffer.concat(entries.map((entry) => entry.bytes));

test('k8s-file records carry any bytes: invalid UTF-8, NUL, CR and high bytes come back as written', () => {
  const content = Buffer.from([0xff, 0xfe, 0x00, 0x0d, 0xc3, 0x28, 0x80, 0x20, 0x7f]);
  const full = parseLogRecord(Buffer.concat([Buffer.from('2024-01-02T03:04:05.000000001Z stdout F '), content]));
  assert.deepEqual(full?.bytes, Buffer.concat([content, Buffer.from('\n')]));
  const partial = parseLogRecord(Buffer.concat([Buffer.from('2024-01-02T03:04:05.000000001Z stderr P '), content]));
  assert.deepEqual(partial?.bytes, content);
  assert.equal(partial?.stream, 'stderr');
});

test('the parser gives back 1 MB of random bytes unchanged, fed in chunks that split records anywhere', () => {
  const data = randomBytes(1 << 20);
  const log = Buffer.concat([
    conmonRecords('2024-01-02T03:04:05.000000001+00:00', 'stdout', data.subarray(0, 8192)),
    conmonRecords('2024-01-02T03:04:05.000000002+00:00', 'stdout', data.subarray(8192)),
  ]);
  for (const chunkSize of [1, 7, 100, 4096, log.length]) {
    const parser = new K8sLogParser();
    const entries: LogEntry[] = [];
    for (let offset = 0; offset < log.length; offset += chunkSize) {
      // The reader reuses its buffer: the parser must not keep references into it.
      const chunk = Buffer.from(log.subarray(offset, offset + chunkSize));
      entries.push(...parser.push(chunk));
      chunk.fill(0);
    }
    assert.equal(parser.pendingBytes, 0);
    assert.ok(join(entries).equals(data), `chunks of ${chunkSize}`);
  }
});

test('an unfinished record waits for the rest of its line', () => {
  const parser = new K8sLogParser();
  assert.deepEqual(parser.push(Buffer.from('2024-01-02T03:04:05Z stdout F ab')), []);
  assert.equal(parser.pendingBytes, 32);
  const entries = parser.push(Buffer.from('c\n2024-01-02T03:04:05Z stdout P d'));
  assert.deepEqual(entries.map((entry) => entry.bytes.toString()), ['abc\n']);
  assert.deepEqual(parser.push(Buffer.from('\n')).map((entry) => entry.bytes.toString()), ['d']);
});

test('records of one read (one timestamp) merge into one entry; reads, streams stay apart', () => {
  const log = Buffer.concat([
    conmonRecords('2024-01-02T03:04:05.000000001Z', 'stdout', Buffer.from('a\nb\nc')),
    conmonRecords('2024-01-02T03:04:05.200000001Z', 'stdout', Buffer.from('d\ne')),
    conmonRecords('2024-01-02T03:04:05.200000001Z', 'stderr', Buffer.from('x\ny\n')),
    conmonRecords('2024-01-02T03:04:05.300000001Z', 'stdout', Buffer.from('\n\n')),
  ]);
  const entries = new K8sLogParser().push(log);
  assert.equal(entries.length, 9);
  const merged = mergeReads(entries);
  assert.deepEqual(merged.map((entry) => [entry.stream, entry.bytes.toString()]), [
    ['stdout', 'a\nb\nc'], ['stdout', 'd\ne'], ['stderr', 'x\ny\n'], ['stdout', '\n\n'],
  ]);
  // Merging copies: the parsed entries keep their own bytes.
  assert.equal(entries[0]!.bytes.toString(), 'a\n');
});

test('readLog: a log of several read chunks comes back whole; tail, streams and per-read entries', async () => {
  const directory = await mkdtemp(joinPath(tmpdir(), 'berth-k8s-log-'));
  try {
    const data = randomBytes(3 << 20);
    const reads: Buffer[] = [];
    for (let offset = 0, n = 1; offset < data.length; offset += 8192, n++) {
      reads.push(conmonRecords(`2024-01-02T03:04:05.${String(n).padStart(9, '0')}Z`, 'stdout', data.subarray(offset, offset + 8192)));
    }
    reads.push(conmonRecords('2024-01-02T03:04:06Z', 'stderr', Buffer.from('one\ntwo\nthree')));
    const path = joinPath(directory, 'log');
    await writeFile(path, Buffer.concat(reads));

    const all: LogEntry[] = [];
    for await (const entry of readLog(path, { stdout: true, stderr: false })) all.push(entry);
    assert.ok(join(all).equals(data));
    const byRead: LogEntry[] = [];
    for await (const entry of readLog(path, { stdout: true, stderr: false, byRead: true })) byRead.push(entry);
    assert.equal(byRead.length, reads.length - 1);
    assert.ok(byRead.every((entry) => entry.bytes.length === 8192));
    assert.ok(join(byRead).equals(data));

    const tail: string[] = [];
    for await (const entry of readLog(path, { stdout: false, stderr: true, tail: 2 })) tail.push(entry.bytes.toString());
    assert.deepEqual(tail, ['two\n', 'three']);
    const none: LogEntry[] = [];
    for await (const entry of readLog(path, { stdout: true, stderr: true, tail: 0 })) none.push(entry);
    assert.deepEqual(none, []);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
