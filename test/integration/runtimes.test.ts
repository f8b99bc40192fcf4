// --runtime: runc next to the default crun (on this cgroup v1 + hybrid v2 host crun needs the
// launcher in src/runtime/oci-runtime.ts), and an unknown runtime refused with Docker's 400.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, mountsUnder, useDaemon, type CommandResult, processAlive } from './harness.js';

const daemon = useDaemon();
const docker = (...args: string[]) => daemon.dockerOk(args);
const noCrun = existsSync('/usr/bin/crun') ? false : 'crun is not installed';




/** Container cgroup directories (64-hex names) left under the daemon's cgroup parent. */
function containerCgroups(): string[] {
  return cgroupDirs(daemon.cgroupParent).flatMap((dir) => readdirSync(dir).filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => join(dir, name)));
}

test('docker info lists both runtimes, crun the default', async () => {
  assert.equal(await docker('info', '--format', '{{.DefaultRuntime}}'), noCrun ? 'runc\n' : 'crun\n');
  const runtimes = JSON.parse(await docker('info', '--format', '{{json .Runtimes}}')) as Record<string, { path: string }>;
  assert.ok('runc' in runtimes, JSON.stringify(runtimes));
  if (!noCrun) assert.equal(runtimes.crun?.path, '/usr/bin/crun');
});

for (const runtime of ['crun', 'runc']) {
  const name = `${runtime}ner`;

  test(`--runtime ${runtime}: attached run prints output, returns the exit code, applies limits, leaves nothing`, { skip: runtime === 'crun' && noCrun }, async () => {
    const result = await daemon.docker(['run', '--rm', '--runtime', runtime, '-m', '32m', '--pids-limit', '20', 'busybox', 'sh', '-c',
      'echo out; echo err >&2; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; exit 5'], { timeoutMs: 20_000 });
    assert.equal(result.stdout, 'out\n20\n33554432\n', JSON.stringify(result) + daemon.log);
    assert.equal(result.stderr, 'err\n');
    assert.equal(result.code, 5);
    // Without --pids-limit (Docker sends "unlimited"), the runtime must still start the container.
    assert.equal(await docker('run', '--rm', '--runtime', runtime, 'busybox', 'cat', '/sys/fs/cgroup/pids/pids.max'), 'max\n');
    assert.equal(await docker('ps', '-aq'), '');
    assert.deepEqual(containerCgroups(), []);
    assert.deepEqual(mountsUnder(daemon.root), []);
  });

  test(`--runtime ${runtime}: run -d, stop, start, kill, rm; state under the ${runtime} root; host cgroup limits`, { skip: runtime === 'crun' && noCrun }, async () => {
    const id = (await docker('run', '-d', '--runtime', runtime, '--name', name, '--pids-limit', '40', 'busybox', 'sleep', '1000')).trim();
    assert.equal(await docker('inspect', '-f', '{{.HostConfig.Runtime}} {{.State.Status}}', name), `${runtime} running\n`);
    const stateDir = join(daemon.execRoot, 'runtime', runtime, id);
    assert.ok(existsSync(stateDir), `${runtime} keeps its state under the daemon's exec root`);
    assert.equal(readFileSync(join('/sys/fs/cgroup/pids', daemon.cgroupParent, id, 'pids.max'), 'utf8').trim(), '40');

    await docker('stop', '-t', '1', name);
    assert.equal(await docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name), 'exited 137\n');
    assert.equal(existsSync(stateDir), false, `${runtime} delete ran`);
    assert.deepEqual(containerCgroups(), []);

    await docker('start', name);
    const pid = Number((await docker('inspect', '-f', '{{.State.Pid}}', name)).trim());
    assert.ok(processAlive(pid));
    await docker('kill', name);
    assert.equal(processAlive(pid), false);
    assert.equal(await docker('rm', name), `${name}\n`);
    assert.equal(existsSync(stateDir), false);
    assert.deepEqual(containerCgroups(), []);
    assert.deepEqual(mountsUnder(daemon.root), []);
  });
}

test('--runtime crun: a crun container outlives kill -9 of berthd and is adopted', { skip: noCrun }, async () => {
  await docker('run', '-d', '--runtime', 'crun', '--name', 'crun-survivor', 'busybox', 'sleep', '1000');
  const pid = Number((await docker('inspect', '-f', '{{.State.Pid}}', 'crun-survivor')).trim());
  await daemon.kill9();
  assert.ok(processAlive(pid));
  await daemon.start();
  assert.equal(await docker('inspect', '-f', '{{.State.Running}} {{.State.Pid}}', 'crun-survivor'), `true ${pid}\n`);
  assert.equal(await docker('rm', '-f', 'crun-survivor'), 'crun-survivor\n');
  assert.equal(processAlive(pid), false);
  assert.deepEqual(containerCgroups(), []);
});

test('--runtime nosuch: 400 "Unknown runtime specified nosuch" and nothing created', async () => {
  const response = await daemon.api('POST', '/containers/create?name=never', { Image: 'busybox', Cmd: ['true'], HostConfig: { Runtime: 'nosuch' } });
  assert.equal(response.status, 400);
  assert.deepEqual(response.json(), { message: 'Unknown runtime specified nosuch' });
  const viaDocker = await daemon.docker(['run', '--runtime', 'nosuch', '--name', 'never', 'busybox', 'true']);
  assert.equal(viaDocker.code, 125);
  assert.match(viaDocker.stderr, /^docker: Error response from daemon: Unknown runtime specified nosuch$/m);
  assert.equal((await daemon.api('GET', '/containers/never/json')).status, 404);
  assert.equal(await docker('ps', '-aq'), '');
  assert.equal(existsSync(join(daemon.execRoot, 'runtime', 'nosuch')), false);
});
