// Health checks: --health-* options and the image's HEALTHCHECK; State.Health in inspect,
// "(healthy)" in ps and its health filter, health_status events, timeouts — with berth and the
// docker CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, useDaemon } from './harness.js';

const daemon = useDaemon();

interface Health { Status: string; FailingStreak: number; Log: Array<{ ExitCode: number; Output: string }> }

async function health(name: string): Promise<Health | null> {
  return (await daemon.api('GET', `/containers/${name}/json`)).json().State.Health ?? null;
}

test('a failing check turns unhealthy, a passing one healthy; ps, filters and events follow', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await daemon.berthOk(['run', '-d', '--name', 'probed', '--health-cmd', 'cat /tmp/ok', '--health-interval', '150ms',
    '--health-retries', '2', 'busybox', 'sh', '-c', 'sleep 2; echo fine > /tmp/ok; sleep 100']);
  assert.equal((await health('probed'))?.Status, 'starting');
  const unhealthy = await eventually(async () => {
    const current = await health('probed');
    return current?.Status === 'unhealthy' ? current : undefined;
  }, 10_000, 'unhealthy');
  assert.ok(unhealthy.FailingStreak >= 2);
  assert.ok(unhealthy.Log.every((entry) => entry.ExitCode === 1));
  assert.match(unhealthy.Log[0]!.Output, /No such file/);
  assert.match(await daemon.berthOk(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}} {{.Status}}']), /^probed Up .* \(unhealthy\)$/m);

  const healthy = await eventually(async () => {
    const current = await health('probed');
    return current?.Status === 'healthy' ? current : undefined;
  }, 10_000, 'healthy');
  assert.equal(healthy.FailingStreak, 0);
  assert.equal(healthy.Log.at(-1)!.Output, 'fine\n');
  assert.ok(healthy.Log.length <= 5);
  assert.match(await daemon.dockerOk(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']), /^probed Up .* \(healthy\)$/m);
  assert.equal((await daemon.dockerOk(['inspect', '-f', '{{.State.Health.Status}}', 'probed'])).trim(), 'healthy');

  const events = await daemon.berthOk(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000)),
    '--filter', 'container=probed', '--format', '{{.Action}}']);
  const statuses = events.split('\n').filter((line) => line.startsWith('health_status'));
  assert.deepEqual(statuses, ['health_status: unhealthy', 'health_status: healthy']);
  await daemon.berthOk(['rm', '-f', 'probed']);
});

test('the image HEALTHCHECK applies, --no-healthcheck turns it off, a slow probe times out', async () => {
  await daemon.berthOk(['import', '-c', 'HEALTHCHECK --interval=150ms --retries=1 CMD ["true"]', daemon.busyboxRootfs(), 'checked:1']);
  await daemon.dockerOk(['run', '-d', '--name', 'inherits', 'checked:1', 'sleep', '100']);
  await eventually(async () => (await health('inherits'))?.Status === 'healthy', 10_000, 'the image check to pass');

  await daemon.dockerOk(['run', '-d', '--name', 'unchecked', '--no-healthcheck', 'checked:1', 'sleep', '100']);
  assert.equal(await health('unchecked'), null);
  const conflicting = await daemon.berth(['run', '-d', '--no-healthcheck', '--health-cmd', 'true', 'busybox', 'true']);
  assert.equal(conflicting.code, 125);
  assert.match(conflicting.stderr, /--no-healthcheck conflicts with --health-\* options/);

  await daemon.berthOk(['run', '-d', '--name', 'slow', '--health-cmd', 'sleep 5', '--health-timeout', '300ms',
    '--health-interval', '100ms', '--health-retries', '1', 'busybox', 'sleep', '100']);
  const timedOut = await eventually(async () => {
    const current = await health('slow');
    return current?.Status === 'unhealthy' ? current : undefined;
  }, 15_000, 'the slow probe to time out');
  assert.equal(timedOut.Log[0]!.ExitCode, -1);
  assert.equal(timedOut.Log[0]!.Output, 'Health check exceeded timeout (300ms)');
  await daemon.berthOk(['rm', '-f', 'inherits', 'unchecked', 'slow']);
  await daemon.berthOk(['rmi', 'checked:1']);
});
