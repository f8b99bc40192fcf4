// Live restore: containers outlive berthd (kill -9 or SIGTERM); a restarted berthd adopts the
// running ones (same pid), records exits that happened while it was away (code, time, wait,
// cleanup, --rm removal) and still starts containers that were only created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, mountsUnder, useDaemon, type CommandResult, processAlive } from './harness.js';

const daemon = useDaemon();
const docker = (...args: string[]) => daemon.dockerOk(args);




async function pidOf(name: string): Promise<number> {
  const pid = Number((await docker('inspect', '-f', '{{.State.Pid}}', name)).trim());
  assert.ok(pid > 0, `${name} has a pid`);
  return pid;
}

function mergedDir(id: string): string {
  return join(daemon.dataRoot, 'containers', id, 'fs', 'merged');
}

function runtimeStateDir(id: string, runtime = 'crun'): string {
  return join(daemon.execRoot, 'runtime', runtime, id);
}

test('after kill -9 of berthd a running container keeps running and is adopted with the same pid', async () => {
  const id = (await docker('run', '-d', '--name', 'survivor', 'busybox', 'sleep', '1000')).trim();
  const pid = await pidOf('survivor');
  await daemon.kill9();
  assert.ok(processAlive(pid), 'the container process outlives berthd');
  await daemon.start();
  assert.ok(processAlive(pid));
  assert.match(await docker('ps', '--filter', 'name=survivor'), /Up .* +survivor\n$/);
  assert.equal(await docker('inspect', '-f', '{{.State.Status}} {{.State.Running}} {{.State.Pid}}', 'survivor'), `running true ${pid}\n`);
  assert.ok(mountsUnder(daemon.root).includes(mergedDir(id)), 'its root filesystem is still mounted');

  // The adopted container is a normal one: stop reaches it and its exit is recorded.
  await docker('stop', '-t', '1', 'survivor');
  assert.equal(processAlive(pid), false);
  assert.equal(await docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'survivor'), 'exited 137\n');
  assert.equal(await docker('rm', 'survivor'), 'survivor\n');
  assert.equal(mountsUnder(daemon.root).includes(mergedDir(id)), false);
  assert.equal(existsSync(runtimeStateDir(id)), false);
});

test('an exit while berthd is away is recorded after restart: code, time, wait, cleanup; --rm removes; created survives', async () => {
  const exitsId = (await docker('run', '-d', '--name', 'exits', 'busybox', 'sh', '-c', 'sleep 3; exit 3')).trim();
  const removedId = (await docker('run', '-d', '--rm', '--name', 'removed', 'busybox', 'sh', '-c', 'sleep 3; exit 4')).trim();
  const createdId = (await docker('create', '--name', 'created', 'busybox', 'sh', '-c', 'echo started; sleep 1000')).trim();
  const pids = [await pidOf('exits'), await pidOf('removed')];
  await daemon.kill9();
  await eventually(() => pids.every((pid) => !processAlive(pid)), 10_000, 'the containers to exit while berthd is down');
  const restartedAt = Date.now();
  await daemon.start();

  const [status, code, finishedAt, startedAt] = (await docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}} {{.State.StartedAt}}', 'exits')).trim().split(' ');
  assert.equal(status, 'exited');
  assert.equal(code, '3');
  assert.ok(!finishedAt.startsWith('0001-'), `FinishedAt is set: ${finishedAt}`);
  assert.ok(Date.parse(finishedAt) > Date.parse(startedAt), `${finishedAt} after ${startedAt}`);
  assert.ok(Date.parse(finishedAt) <= restartedAt, `FinishedAt (${finishedAt}) is when it exited, not when berthd came back (${new Date(restartedAt).toISOString()})`);
  assert.equal(await docker('wait', 'exits'), '3\n');
  assert.match(await docker('ps', '-a', '--filter', 'name=exits'), /Exited \(3\) .* ago +exits\n$/);
  assert.equal(mountsUnder(daemon.root).includes(mergedDir(exitsId)), false, 'its root filesystem is unmounted');
  assert.equal(existsSync(runtimeStateDir(exitsId)), false, 'the runtime\'s state is deleted');

  await eventually(async () => (await daemon.docker(['inspect', 'removed'])).code === 1, 10_000, 'the --rm container to be removed');
  assert.equal(existsSync(join(daemon.dataRoot, 'containers', removedId)), false);
  assert.equal(existsSync(runtimeStateDir(removedId)), false);
  assert.equal(mountsUnder(daemon.root).includes(mergedDir(removedId)), false);

  assert.equal(await docker('inspect', '-f', '{{.State.Status}}', 'created'), 'created\n');
  await docker('start', 'created');
  await eventually(async () => (await docker('logs', 'created')) === 'started\n', 10_000, 'the created container to run');
  assert.equal(existsSync(runtimeStateDir(createdId)), true);
  await docker('rm', '-f', 'created', 'exits');
  assert.equal(await docker('ps', '-aq'), '');
});

test('SIGTERM to berthd leaves containers running; after restart an exit is noticed as usual', async () => {
  await docker('run', '-d', '--name', 'calm', 'busybox', 'sleep', '1000');
  await docker('run', '-d', '--name', 'later', 'busybox', 'sh', '-c', 'trap "exit 9" TERM; while true; do sleep 0.1; done');
  const calmPid = await pidOf('calm');
  const laterPid = await pidOf('later');
  await daemon.stop();
  assert.ok(processAlive(calmPid) && processAlive(laterPid), 'a friendly stop of berthd stops no container');
  await daemon.start();
  assert.equal(await docker('ps', '--format', '{{.Names}} {{.State}}', '--filter', 'name=calm'), 'calm running\n');
  assert.equal(await docker('inspect', '-f', '{{.State.Pid}}', 'later'), `${laterPid}\n`);

  // An exit that happens after the restart (not through the API) reaches inspect, wait and events.
  const since = (Date.now() / 1000).toFixed(3);
  const waited = daemon.docker(['wait', 'later']);
  process.kill(laterPid, 'SIGTERM');
  assert.equal((await waited).stdout, '9\n');
  assert.equal(await docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'later'), 'exited 9\n');
  const events = await docker('events', '--since', since, '--until', (Date.now() / 1000).toFixed(3), '--filter', 'event=die', '--format', '{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}');
  assert.equal(events, 'later 9\n');

  assert.equal(await docker('rm', '-f', 'calm', 'later'), 'calm\nlater\n');
  assert.equal(processAlive(calmPid), false);
});

test('kill -9 twice in a row: a container adopted once is adopted again', async () => {
  await docker('run', '-d', '--name', 'twice', 'busybox', 'sleep', '1000');
  const pid = await pidOf('twice');
  for (let round = 0; round < 2; round++) {
    await daemon.kill9();
    await daemon.start();
    assert.equal(await docker('inspect', '-f', '{{.State.Running}} {{.State.Pid}}', 'twice'), `true ${pid}\n`, `round ${round}`);
  }
  await docker('kill', 'twice');
  assert.equal(await docker('inspect', '-f', '{{.State.ExitCode}}', 'twice'), '137\n');
  await docker('rm', 'twice');
});
