import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerState, RestartPolicy } from '../../src/wire/types.js';
import { initialState, type ContainerRecord } from '../../src/containers/record.js';
import {
  exitedAfterRestarting, killCancelsRestart, nextRestartDelay, policyRestarts, RestartManager, restartingState, startsAtDaemonStart,
} from '../../src/containers/restart-policy.js';
import { containerStatusText } from '../../src/containers/status.js';

const facts = (exitCode: number, extra: { stoppedByUser?: boolean; restartCount?: number } = {}) =>
  ({ exitCode, stoppedByUser: extra.stoppedByUser ?? false, restartCount: extra.restartCount ?? 0 });

test('no policy, "no" and "" never restart', () => {
  for (const policy of [undefined, { Name: '' }, { Name: 'no' }] as Array<RestartPolicy | undefined>) {
    assert.equal(policyRestarts(policy, facts(1)), false);
    assert.equal(policyRestarts(policy, facts(0)), false);
  }
});

test('always restarts whatever the exit code, also after a stop by the user', () => {
  assert.equal(policyRestarts({ Name: 'always' }, facts(0)), true);
  assert.equal(policyRestarts({ Name: 'always' }, facts(137, { stoppedByUser: true })), true);
});

test('unless-stopped restarts unless the user stopped it', () => {
  assert.equal(policyRestarts({ Name: 'unless-stopped' }, facts(0)), true);
  assert.equal(policyRestarts({ Name: 'unless-stopped' }, facts(1, { stoppedByUser: true })), false);
});

test('on-failure: only non-zero exits, up to MaximumRetryCount (0 = no limit)', () => {
  const twice: RestartPolicy = { Name: 'on-failure', MaximumRetryCount: 2 };
  assert.equal(policyRestarts(twice, facts(0)), false);
  assert.equal(policyRestarts(twice, facts(1, { restartCount: 0 })), true);
  assert.equal(policyRestarts(twice, facts(1, { restartCount: 1 })), true);
  assert.equal(policyRestarts(twice, facts(1, { restartCount: 2 })), false);
  assert.equal(policyRestarts({ Name: 'on-failure' }, facts(3, { restartCount: 500 })), true);
  assert.equal(policyRestarts({ Name: 'on-failure', MaximumRetryCount: 0 }, facts(3, { restartCount: 500 })), true);
});

test('back-off: 100 ms, doubling, at most a minute', () => {
  const delays: number[] = [];
  let delay = 0;
  for (let i = 0; i < 14; i++) {
    delay = nextRestartDelay(delay, 50);
    delays.push(delay);
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 60000]);
});

test('back-off starts over after a run of at least 10 s', () => {
  assert.equal(nextRestartDelay(51200, 9_999), 60000);
  assert.equal(nextRestartDelay(51200, 10_000), 100);
  assert.equal(nextRestartDelay(800, 60_000), 100);
});

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function record(policy: RestartPolicy, state: Partial<ContainerState> = {}, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: 'c1', name: '/c1', created: new Date(T0).toISOString(), path: 'sh', args: [], config: {}, hostConfig: { RestartPolicy: policy },
    image: 'sha256:x', topChainId: null, runtime: 'runc', restartCount: 0,
    state: { ...initialState(), Status: 'running', Running: true, StartedAt: new Date(T0).toISOString(), ...state },
    ...extra,
  };
}

test('RestartManager: the delay doubles over quick exits and resets after a long run', () => {
  const manager = new RestartManager();
  const container = record({ Name: 'always' });
  const delays = [1, 2, 3].map((n) => manager.onExit(container, 1, new Date(T0 + n * 100)).delayMs);
  assert.deepEqual(delays, [100, 200, 400]);
  assert.deepEqual(manager.onExit(container, 1, new Date(T0 + 10_000)), { restart: true, delayMs: 100 });
  assert.equal(manager.onExit(container, 1, new Date(T0 + 50)).delayMs, 200);
});

test('RestartManager: cancel (stop/kill) suppresses restarts until reset (a start by the user)', () => {
  const manager = new RestartManager();
  const container = record({ Name: 'always' });
  manager.cancel('c1');
  assert.equal(manager.isCanceled('c1'), true);
  assert.equal(manager.onExit(container, 0, new Date(T0 + 100)).restart, false);
  manager.reset('c1');
  assert.deepEqual(manager.onExit(container, 0, new Date(T0 + 100)), { restart: true, delayMs: 100 });
});

test('RestartManager: on-failure:2 after two restarts gives up', () => {
  const manager = new RestartManager();
  const container = record({ Name: 'on-failure', MaximumRetryCount: 2 });
  const decisions: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    const { restart } = manager.onExit(container, 1, new Date(T0 + 100));
    decisions.push(restart);
    if (restart) container.restartCount++;
  }
  assert.deepEqual(decisions, [true, true, false]);
  assert.equal(container.restartCount, 2);
});

test('RestartManager: a scheduled restart runs after its delay; cancel drops it', async () => {
  const manager = new RestartManager();
  const ran: string[] = [];
  manager.schedule('a', 10, async () => { ran.push('a'); });
  manager.schedule('b', 10, async () => { ran.push('b'); });
  manager.cancel('b');
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.deepEqual(ran, ['a']);
  // Cancelled before the schedule call (an exit racing with stop): it runs at once to be given up.
  manager.schedule('b', 60_000, async () => { ran.push('b'); });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ran, ['a', 'b']);
  manager.shutdown();
});

test('kill: SIGKILL and the stop signal cancel the policy; any signal when no StopSignal is set', () => {
  assert.equal(killCancelsRestart(9, undefined), true);
  assert.equal(killCancelsRestart(10, undefined), true);
  assert.equal(killCancelsRestart(9, 3), true);
  assert.equal(killCancelsRestart(3, 3), true);
  assert.equal(killCancelsRestart(15, 3), false);
});

test('restarting state: Running and Restarting true, ps says "Restarting (code) ... ago"; giving up leaves it exited', () => {
  const exitedAt = new Date(T0 + 5000);
  const state = restartingState(record({ Name: 'always' }).state, { exitCode: 3, oomKilled: false, exitedAt });
  assert.deepEqual([state.Status, state.Running, state.Restarting, state.Pid, state.ExitCode, state.FinishedAt],
    ['restarting', true, true, 0, 3, exitedAt.toISOString()]);
  assert.equal(containerStatusText(state, T0 + 7000), 'Restarting (3) 2 seconds ago');
  const given = exitedAfterRestarting(state);
  assert.deepEqual([given.Status, given.Running, given.Restarting, given.ExitCode], ['exited', false, false, 3]);
  assert.equal(containerStatusText(given, T0 + 7000), 'Exited (3) 2 seconds ago');
});

test('daemon start: always and unless-stopped (not stopped by the user) come back; created, running and exhausted ones do not', () => {
  const exited = { Status: 'exited' as const, Running: false, ExitCode: 137, FinishedAt: new Date(T0 + 1000).toISOString() };
  assert.equal(startsAtDaemonStart(record({ Name: 'always' }, exited, { stoppedByUser: true })), true);
  assert.equal(startsAtDaemonStart(record({ Name: 'unless-stopped' }, exited)), true);
  assert.equal(startsAtDaemonStart(record({ Name: 'unless-stopped' }, exited, { stoppedByUser: true })), false);
  assert.equal(startsAtDaemonStart(record({ Name: 'no' }, exited)), false);
  assert.equal(startsAtDaemonStart(record({ Name: 'on-failure', MaximumRetryCount: 2 }, exited, { restartCount: 1 })), true);
  assert.equal(startsAtDaemonStart(record({ Name: 'on-failure', MaximumRetryCount: 2 }, exited, { restartCount: 2 })), false);
  assert.equal(startsAtDaemonStart(record({ Name: 'on-failure' }, { ...exited, ExitCode: 0 })), false);
  assert.equal(startsAtDaemonStart(record({ Name: 'always' })), false, 'running');
  assert.equal(startsAtDaemonStart(record({ Name: 'always' }, initialState())), false, 'never started');
});
