// Restart policies against berthd, with our CLI and the real docker CLI: on-failure's retry
// limit, always after a kill -9 of the container's process from the host, the "restarting"
// state during the back-off, stop/kill/rm suppressing or cancelling restarts, and dockerd's
// rules when the daemon starts again (always back, unless-stopped stopped by the user not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, processAlive, sleep, useDaemon } from './harness.js';

const daemon = useDaemon();
const docker = (...args: string[]) => daemon.dockerOk(args);
const berth = (...args: string[]) => daemon.berthOk(args);

const inspect = async (name: string, format: string) => (await docker('inspect', '-f', format, name)).trim();
const now = () => (Date.now() / 1000).toFixed(3);

async function actions(name: string, since: string): Promise<string[]> {
  const text = await docker('events', '--since', since, '--until', now(), '--filter', `container=${name}`, '--format', '{{.Action}}');
  return text.split('\n').filter((line) => line !== '');
}

test('create rejects a restart policy Docker rejects', async () => {
  const rm = await daemon.docker(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
  assert.equal(rm.code, 125);
  assert.match(rm.stderr, /conflicting options: cannot specify both --restart and --rm/);
  const ours = await daemon.berth(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
  assert.equal(ours.code, 125);
  assert.match(ours.stderr, /conflicting options: cannot specify both --restart and --rm/);

  const autoRemove = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } });
  assert.equal(autoRemove.status, 400);
  assert.equal(autoRemove.json().message, "can't create 'AutoRemove' container with restart policy");
  const retries = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } } });
  assert.equal(retries.status, 400);
  assert.match(retries.json().message, /maximum retry count/);
  const unknown = await daemon.docker(['create', '--restart', 'sometimes', 'busybox']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /invalid restart policy/);
});

test('on-failure:2 restarts a failing container twice, then leaves it exited; events die, start', async () => {
  const since = now();
  await berth('run', '-d', '--name', 'twice', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3');
  await eventually(async () => (await inspect('twice', '{{.State.Status}} {{.RestartCount}}')) === 'exited 2', 10_000, 'two restarts, then exited');
  await sleep(500);
  assert.equal(await inspect('twice', '{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}} {{.RestartCount}}'), 'exited false false 3 2');
  assert.equal((await berth('inspect', '-f', '{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'twice')).trim(), '2 on-failure:2');
  assert.deepEqual(await actions('twice', since), ['create', 'start', 'die', 'start', 'die', 'start', 'die']);
  assert.match(await docker('ps', '-a', '--filter', 'name=twice', '--format', '{{.Status}}'), /^Exited \(3\) .* ago\n$/);

  // A successful exit is no failure: no restart.
  await docker('run', '-d', '--name', 'fine', '--restart', 'on-failure', 'busybox', 'true');
  await eventually(async () => (await inspect('fine', '{{.State.Status}}')) === 'exited', 10_000, 'fine to exit');
  await sleep(300);
  assert.equal(await inspect('fine', '{{.State.Status}} {{.RestartCount}}'), 'exited 0');
  await docker('rm', 'twice', 'fine');
});

test('always: kill -9 of the container process from the host brings it back; stop and kill suppress; start resets the count', async () => {
  await docker('run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '1000');
  const pid = Number(await inspect('phoenix', '{{.State.Pid}}'));
  const since = now();
  process.kill(pid, 'SIGKILL');
  const newPid = await eventually(async () => {
    const [running, current] = (await inspect('phoenix', '{{.State.Running}} {{.State.Pid}}')).split(' ');
    return running === 'true' && Number(current) > 0 && Number(current) !== pid ? Number(current) : 0;
  }, 10_000, 'a new process');
  assert.ok(processAlive(newPid));
  assert.equal(await inspect('phoenix', '{{.State.Status}} {{.State.Restarting}} {{.RestartCount}} {{.State.ExitCode}}'), 'running false 1 0');
  await eventually(async () => (await actions('phoenix', since)).join(' ') === 'die start', 5_000, 'die then start');
  const die = await docker('events', '--since', since, '--until', now(), '--filter', 'container=phoenix', '--filter', 'event=die', '--format', '{{.Actor.Attributes.exitCode}}');
  assert.equal(die, '137\n');

  // docker stop is final: no restart after it.
  await docker('stop', '-t', '1', 'phoenix');
  await sleep(400);
  assert.equal(await inspect('phoenix', '{{.State.Status}} {{.RestartCount}}'), 'exited 1');
  assert.equal(processAlive(newPid), false);

  // A start by the user resets RestartCount; docker kill suppresses the policy as stop does.
  await docker('start', 'phoenix');
  assert.equal(await inspect('phoenix', '{{.State.Status}} {{.RestartCount}}'), 'running 0');
  await docker('kill', 'phoenix');
  await sleep(400);
  assert.equal(await inspect('phoenix', '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}'), 'exited 137 0');
  await docker('rm', 'phoenix');
});

test('during the back-off the container is "restarting" (Running true); stop cancels it, rm -f removes it', async () => {
  // Exits at once: the back-off grows 100, 200, 400, 800, 1600 ms... long enough to look at.
  for (const name of ['looper', 'doomed']) await docker('run', '-d', '--name', name, '--restart', 'always', 'busybox', 'sh', '-c', 'exit 5');
  // From the n-th restart on the back-off is 100 ms × 2^n: at 6, 6.4 s, time enough for the
  // next command to land in it even on a loaded machine.
  const restarting = async (name: string, atLeast = 4) => {
    const [status, running, restartingFlag, count] = (await inspect(name, '{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.RestartCount}}')).split(' ');
    return status === 'restarting' && running === 'true' && restartingFlag === 'true' && Number(count) >= atLeast;
  };
  await eventually(() => restarting('looper'), 15_000, 'looper in a long back-off');
  assert.match(await docker('ps', '--filter', 'name=looper', '--format', '{{.Status}}|{{.State}}'), /^Restarting \(5\) (Less than a second|\d+ seconds?) ago\|restarting\n$/);
  assert.match(await berth('ps', '--filter', 'name=looper', '--format', '{{.Status}}'), /^Restarting \(5\) /);
  assert.equal(await inspect('looper', '{{.State.Pid}} {{.State.ExitCode}}'), '0 5');

  const count = Number(await inspect('looper', '{{.RestartCount}}'));
  await docker('stop', 'looper');
  assert.equal(await inspect('looper', '{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}'), 'exited false false 5');
  await sleep(2000);
  assert.equal(await inspect('looper', '{{.State.Status}} {{.RestartCount}}'), `exited ${count}`, 'the pending restart was cancelled');

  await eventually(() => restarting('doomed', 6), 30_000, 'doomed in a long back-off');
  const refused = await daemon.docker(['rm', 'doomed']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /You cannot remove a restarting container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/);
  assert.equal(await docker('rm', '-f', 'doomed'), 'doomed\n');
  assert.equal((await daemon.docker(['inspect', 'doomed'])).code, 1);
  await docker('rm', 'looper');
});

test('daemon restart: exits while berthd is away restart, always comes back, unless-stopped stopped by the user stays stopped', async () => {
  // A container in its back-off when berthd goes away.
  await docker('run', '-d', '--name', 'midway', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 7');
  await docker('run', '-d', '--name', 'keeper', '--restart', 'always', 'busybox', 'sleep', '1000');
  await docker('run', '-d', '--name', 'lasting', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000');
  await docker('run', '-d', '--name', 'resting', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000');
  await docker('run', '-d', '--name', 'stubborn', '--restart', 'always', 'busybox', 'sleep', '1000');
  await docker('run', '-d', '--name', 'plain', 'busybox', 'sleep', '1000');
  await docker('stop', '-t', '0', 'resting', 'stubborn');
  const pids = {
    keeper: Number(await inspect('keeper', '{{.State.Pid}}')),
    lasting: Number(await inspect('lasting', '{{.State.Pid}}')),
    plain: Number(await inspect('plain', '{{.State.Pid}}')),
  };
  await eventually(async () => (await inspect('midway', '{{.State.Status}} {{.RestartCount}}')).match(/^restarting ([4-9]|\d\d)$/), 15_000, 'midway in a long back-off');
  const midwayCount = Number(await inspect('midway', '{{.RestartCount}}'));

  await daemon.kill9();
  for (const pid of Object.values(pids)) process.kill(pid, 'SIGKILL');
  await eventually(() => Object.values(pids).every((pid) => !processAlive(pid)), 10_000, 'the processes to die while berthd is down');
  await daemon.start();

  const up = async (name: string, oldPid: number) => {
    const [running, pid] = (await inspect(name, '{{.State.Running}} {{.State.Pid}}')).split(' ');
    return running === 'true' && Number(pid) > 0 && Number(pid) !== oldPid;
  };
  await eventually(() => up('keeper', pids.keeper), 10_000, 'keeper (always, killed while berthd was down) to run again');
  await eventually(() => up('lasting', pids.lasting), 10_000, 'lasting (unless-stopped, killed while berthd was down) to run again');
  assert.equal(await inspect('stubborn', '{{.State.Status}}'), 'running', 'always comes back at daemon start even after docker stop');
  assert.equal(await inspect('resting', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137', 'unless-stopped stopped by the user stays stopped');
  assert.equal(await inspect('plain', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137', 'no policy: stays exited');
  await eventually(async () => Number(await inspect('midway', '{{.RestartCount}}')) > midwayCount, 10_000, 'midway to carry on restarting');

  await docker('rm', '-f', 'midway', 'keeper', 'lasting', 'resting', 'stubborn', 'plain');
  assert.equal(await docker('ps', '-aq'), '');
});
