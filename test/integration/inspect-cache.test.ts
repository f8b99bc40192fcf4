// berthd keeps each container's inspect body serialised until something it shows changes
// (containers/views.ts). Each test inspects first (so a body is kept), then changes the
// container one way — start, stop, pause, rename, update, network connect and disconnect,
// an exec, a health check, a restart by its policy, removal — and checks that the next
// inspect shows the change, and that it matches the body built afresh (?size=1 bypasses it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, useDaemon } from './harness.js';

const daemon = useDaemon();

async function inspect(reference: string): Promise<any> {
  const response = await daemon.api('GET', `/containers/${reference}/json`);
  assert.equal(response.status, 200, response.body);
  return response.json();
}

/** The kept body and one built afresh (size=1 never uses the kept one) agree, apart from the sizes. */
async function assertKeptMatchesFresh(reference: string): Promise<void> {
  const kept = await inspect(reference);
  const fresh = (await daemon.api('GET', `/containers/${reference}/json?size=1`)).json();
  delete fresh.SizeRw;
  delete fresh.SizeRootFs;
  assert.deepEqual(kept, fresh);
}

test('inspect follows start, pause, unpause, rename, update, stop and removal', async () => {
  const id = (await daemon.berthOk(['create', '--name', 'cached', 'busybox', 'sleep', '300'])).trim();
  assert.equal((await inspect(id)).State.Status, 'created');
  await daemon.berthOk(['start', id]);
  const started = await inspect(id);
  assert.equal(started.State.Status, 'running');
  assert.ok(started.State.Pid > 0);
  // The default bridge's address comes from the network records, which the start changed.
  assert.match(started.NetworkSettings.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
  await assertKeptMatchesFresh(id);

  await daemon.berthOk(['pause', id]);
  assert.equal((await inspect(id)).State.Status, 'paused');
  await daemon.berthOk(['unpause', id]);
  assert.equal((await inspect(id)).State.Status, 'running');

  await daemon.berthOk(['rename', 'cached', 'renamed']);
  assert.equal((await inspect(id)).Name, '/renamed');
  assert.equal((await inspect('renamed')).Id, id);
  assert.equal((await daemon.api('GET', '/containers/cached/json')).status, 404);

  await daemon.berthOk(['update', '--cpu-shares', '512', id]);
  assert.equal((await inspect(id)).HostConfig.CpuShares, 512);

  await daemon.berthOk(['stop', '-t', '0', id]);
  const stopped = await inspect(id);
  assert.equal(stopped.State.Running, false);
  assert.equal(stopped.State.Status, 'exited');
  assert.equal(stopped.NetworkSettings.IPAddress, '');
  await assertKeptMatchesFresh(id);

  await daemon.berthOk(['rm', id]);
  assert.equal((await daemon.api('GET', `/containers/${id}/json`)).status, 404);
});

test('inspect follows network connect and disconnect, and exec sessions', async () => {
  await daemon.berthOk(['network', 'create', 'cachenet']);
  try {
    const id = (await daemon.berthOk(['run', '-d', 'busybox', 'sleep', '300'])).trim();
    assert.deepEqual(Object.keys((await inspect(id)).NetworkSettings.Networks), ['bridge']);
    await daemon.berthOk(['network', 'connect', 'cachenet', id]);
    const connected = await inspect(id);
    assert.deepEqual(Object.keys(connected.NetworkSettings.Networks).sort(), ['bridge', 'cachenet']);
    assert.match(connected.NetworkSettings.Networks.cachenet.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    await daemon.berthOk(['network', 'disconnect', 'cachenet', id]);
    assert.deepEqual(Object.keys((await inspect(id)).NetworkSettings.Networks), ['bridge']);

    assert.equal((await inspect(id)).ExecIDs, null);
    const exec = await daemon.api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
    assert.equal(exec.status, 201, exec.body);
    assert.deepEqual((await inspect(id)).ExecIDs, [exec.json().Id]);
    await daemon.berthOk(['rm', '-f', id]);
  } finally {
    await daemon.berth(['network', 'rm', 'cachenet']);
  }
});

test('inspect follows health checks and restarts by the restart policy', async () => {
  const healthy = (await daemon.berthOk(['run', '-d', '--network', 'none', '--health-cmd', 'true', '--health-interval', '200ms',
    'busybox', 'sleep', '300'])).trim();
  assert.equal((await inspect(healthy)).State.Health.Status, 'starting');
  await eventually(async () => (await inspect(healthy)).State.Health.Status === 'healthy', 15_000, 'healthy in inspect');
  await assertKeptMatchesFresh(healthy);

  const failing = (await daemon.berthOk(['run', '-d', '--network', 'none', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3'])).trim();
  const done = await eventually(async () => {
    const current = await inspect(failing);
    return current.RestartCount === 2 && current.State.Status === 'exited' ? current : undefined;
  }, 20_000, 'two restarts in inspect');
  assert.equal(done.State.ExitCode, 3);
  await assertKeptMatchesFresh(failing);
  await daemon.berthOk(['rm', '-f', healthy, failing]);
});
