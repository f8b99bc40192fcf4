// Unit tests for the trace facility: the line format, reading it back, the medians per phase,
// and phases reaching their operation through the async context.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateTraces, formatTraceLine, formatTraceSummary, median, parseTraceLine, setTraceSink, traced, traceOperation, traceRecord,
} from '../../src/util/trace.js';

describe('trace lines', () => {
  it('writes one key=value line with sums and counts of repeated phases', () => {
    const line = formatTraceLine('POST /containers/{}/start', 12.345, new Map([
      ['record.save', { ms: 3.5, count: 2 }], ['run.runc', { ms: 4, count: 1 }],
    ]));
    assert.equal(line, 'trace op=POST_/containers/{}/start total=12.35 record.save=3.50 record.save#=2 run.runc=4.00');
  });

  it('reads a line back from inside a log line, leaving the counts out', () => {
    const parsed = parseTraceLine('berthd: trace op=exit total=5.00 exit.notify=1.25 fsync=2.00 fsync#=3');
    assert.ok(parsed);
    assert.equal(parsed.operation, 'exit');
    assert.deepEqual([...parsed.phases], [['total', 5], ['exit.notify', 1.25], ['fsync', 2]]);
  });

  it('ignores lines that are not traces', () => {
    assert.equal(parseTraceLine('berthd 0.1.0 listening on unix:///x.sock'), undefined);
    assert.equal(parseTraceLine('trace total=3'), undefined);
  });
});

describe('aggregateTraces', () => {
  it('gives the median of each phase per operation, and how often a phase was seen', () => {
    const lines = [
      'trace op=exec total=10 conmon.exec=6',
      'trace op=exec total=30 conmon.exec=8 exec.drain=1',
      'trace op=exit total=2',
      'trace op=exec total=20 conmon.exec=100',
    ].map((line) => parseTraceLine(line)!);
    const summary = aggregateTraces(lines);
    assert.deepEqual(summary.map((entry) => [entry.operation, entry.count]), [['exec', 3], ['exit', 1]]);
    assert.deepEqual(summary[0]!.phases, [
      { phase: 'total', medianMs: 20, seen: 3 },
      { phase: 'conmon.exec', medianMs: 8, seen: 3 },
      { phase: 'exec.drain', medianMs: 1, seen: 1 },
    ]);
    const text = formatTraceSummary(summary);
    assert.match(text, /^exec \(3x\)$/m);
    assert.match(text, /exec\.drain\s+1\.0 ms {2}\(in 1 of 3\)/);
  });

  it('median of an even count is the mean of the middle two', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe('traceOperation', () => {
  it('collects phases from nested async code and writes one line when the operation ends', async () => {
    const lines: string[] = [];
    setTraceSink((line) => lines.push(line));
    const inner = async () => {
      await traced('inner', () => new Promise((resolve) => setTimeout(resolve, 5)));
      traceRecord('measured', 2);
    };
    const result = await traceOperation('op', async () => {
      await traced('outer', inner);
      await traced('outer', async () => undefined);
      return 42;
    }, true);
    assert.equal(result, 42);
    assert.equal(lines.length, 1);
    const parsed = parseTraceLine(lines[0]!)!;
    assert.equal(parsed.operation, 'op');
    assert.deepEqual([...parsed.phases.keys()], ['total', 'inner', 'measured', 'outer']);
    assert.ok(parsed.phases.get('inner')! >= 4);
    assert.match(lines[0]!, / outer#=2/);
  });

  it('does nothing outside an operation or when disabled, and still returns and throws', async () => {
    const lines: string[] = [];
    setTraceSink((line) => lines.push(line));
    assert.equal(await traced('alone', async () => 1), 1);
    assert.equal(await traceOperation('off', async () => 2, false), 2);
    await assert.rejects(traceOperation('failing', async () => { throw new Error('boom'); }, true), /boom/);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^trace op=failing total=/);
  });
});
