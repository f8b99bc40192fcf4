import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyProbeResult, nextProbeDelayMs, probeCommand, type HealthState } from '../../src/containers/health.js';

const started = '2026-01-01T00:00:00.000Z';
const at = (seconds: number, exitCode: number) => ({
  Start: new Date(Date.parse(started) + seconds * 1000).toISOString(), End: new Date(Date.parse(started) + seconds * 1000 + 5).toISOString(), ExitCode: exitCode, Output: '',
});
const starting: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };

test('probe commands: CMD, CMD-SHELL with the default or the image shell, NONE and empty', () => {
  assert.deepEqual(probeCommand({ Test: ['CMD', 'cat', '/ok'] }, undefined), ['cat', '/ok']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'test -f /ok'] }, undefined), ['/bin/sh', '-c', 'test -f /ok']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'x'] }, ['/bin/ash', '-eo']), ['/bin/ash', '-eo', 'x']);
  assert.equal(probeCommand({ Test: ['NONE'] }, undefined), undefined);
  assert.equal(probeCommand({ Test: [] }, undefined), undefined);
  assert.equal(probeCommand(undefined, undefined), undefined);
});

test('a success makes it healthy and resets the streak', () => {
  const after = applyProbeResult({ Status: 'unhealthy', FailingStreak: 4, Log: [] }, at(1, 0), {}, started);
  assert.equal(after.Status, 'healthy');
  assert.equal(after.FailingStreak, 0);
});

test('failures count up to Retries (3 by default), then unhealthy', () => {
  let health = starting;
  health = applyProbeResult(health, at(1, 1), {}, started);
  assert.deepEqual([health.Status, health.FailingStreak], ['starting', 1]);
  health = applyProbeResult(health, at(2, 1), {}, started);
  health = applyProbeResult(health, at(3, 1), {}, started);
  assert.deepEqual([health.Status, health.FailingStreak], ['unhealthy', 3]);
  const once = applyProbeResult({ Status: 'healthy', FailingStreak: 0, Log: [] }, at(1, 1), { Retries: 1 }, started);
  assert.equal(once.Status, 'unhealthy');
});

test('failures within the start period do not count while starting', () => {
  const check = { StartPeriod: 10e9, Retries: 1 };
  const early = applyProbeResult(starting, at(5, 1), check, started);
  assert.deepEqual([early.Status, early.FailingStreak], ['starting', 0]);
  const late = applyProbeResult(starting, at(11, 1), check, started);
  assert.deepEqual([late.Status, late.FailingStreak], ['unhealthy', 1]);
});

test('the log keeps the last five results', () => {
  let health = starting;
  for (let i = 0; i < 7; i++) health = applyProbeResult(health, at(i, i % 2), {}, started);
  assert.equal(health.Log.length, 5);
  assert.equal(health.Log[0]!.Start, at(2, 0).Start);
});

test('probe interval: the start interval while starting within the start period, otherwise the interval', () => {
  const check = { Interval: 2e9, StartInterval: 1e8, StartPeriod: 5e9 };
  assert.equal(nextProbeDelayMs(check, 'starting', 1000), 100);
  assert.equal(nextProbeDelayMs(check, 'healthy', 1000), 2000);
  assert.equal(nextProbeDelayMs(check, 'starting', 6000), 2000);
  assert.equal(nextProbeDelayMs({}, 'starting', 0), 30_000);
});
