// Failures answer with Docker's status and wording (through the API, our CLI and the docker
// CLI), and leave nothing behind: no container, directory, mount, cgroup or conmon process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, mountsUnder, useDaemon } from './harness.js';

const daemon = useDaemon();

interface HostSnapshot {
  containers: string[];
  directories: string[];
  mounts: string[];
  cgroups: string[];
  conmons: string[];
}

async function snapshot(): Promise<HostSnapshot> {
  const list = await daemon.api('GET', '/containers/json?all=1');
  const containersDir = join(daemon.dataRoot, 'containers');
  return {
    containers: (list.json() as Array<{ Id: string }>).map((container) => container.Id).sort(),
    directories: existsSync(containersDir) ? readdirSync(containersDir).sort() : [],
    mounts: mountsUnder(daemon.root).sort(),
    cgroups: cgroupDirs(daemon.cgroupParent).flatMap((dir) => readdirSync(dir).filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => join(dir, name))).sort(),
    conmons: conmonProcesses(),
  };
}

function conmonProcesses(): string[] {
  try {
    return execFileSync('pgrep', ['-f', `conmon.*${daemon.execRoot}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).sort();
  } catch {
    return [];
  }
}

/** Runs `failing` and asserts that the host looks exactly as before it. */
async function leavesNothing(failing: () => Promise<void>): Promise<void> {
  const before = await snapshot();
  await failing();
  assert.deepEqual(await snapshot(), before);
}

function message(response: { body: string }): string {
  return (JSON.parse(response.body) as { message: string }).message;
}

test('unknown image: 404 "No such image: x:latest" from the API and both CLIs', async () => {
  await leavesNothing(async () => {
    const inspect = await daemon.api('GET', '/images/nosuchimage/json');
    assert.equal(inspect.status, 404);
    assert.equal(message(inspect), 'No such image: nosuchimage:latest');
    const create = await daemon.api('POST', '/containers/create', { Image: 'nosuchimage', Cmd: ['true'] });
    assert.equal(create.status, 404);
    assert.equal(message(create), 'No such image: nosuchimage:latest');
    const created = await daemon.berth(['create', '--pull', 'never', 'nosuchimage']);
    assert.notEqual(created.code, 0);
    assert.match(created.stderr, /No such image: nosuchimage:latest/);
    const rmi = await daemon.berth(['rmi', 'nosuchimage']);
    assert.equal(rmi.code, 1);
    assert.equal(rmi.stderr, 'Error response from daemon: No such image: nosuchimage:latest\n');
    const dockerRmi = await daemon.docker(['rmi', 'nosuchimage']);
    assert.equal(dockerRmi.stderr, 'Error response from daemon: No such image: nosuchimage:latest\n');
  });
});

test('unknown container: 404 "No such container: x" for inspect, start, stop, kill, rm, logs, wait, rename', async () => {
  await leavesNothing(async () => {
    const calls: Array<[string, string]> = [
      ['GET', '/containers/ghost/json'], ['POST', '/containers/ghost/start'], ['POST', '/containers/ghost/stop'],
      ['POST', '/containers/ghost/kill'], ['DELETE', '/containers/ghost'], ['GET', '/containers/ghost/logs?stdout=1'],
      ['POST', '/containers/ghost/wait'], ['POST', '/containers/ghost/rename?name=other'], ['POST', '/containers/ghost/restart'],
    ];
    for (const [method, path] of calls) {
      const response = await daemon.api(method, path);
      assert.equal(response.status, 404, `${method} ${path}: ${response.body}`);
      assert.equal(message(response), 'No such container: ghost', `${method} ${path}`);
    }
    for (const command of ['start', 'stop', 'rm', 'logs', 'kill', 'restart', 'wait']) {
      const result = await daemon.berth([command, 'ghost']);
      assert.equal(result.code, 1, `${command}: ${JSON.stringify(result)}`);
      assert.match(result.stderr, /(Error response from daemon: )?No such container: ghost\n/, `${command}: ${result.stderr}`);
    }
    const inspect = await daemon.berth(['inspect', 'ghost']);
    assert.equal(inspect.code, 1);
    assert.equal(inspect.stdout, '[]\n');
    assert.equal(inspect.stderr, 'Error: No such object: ghost\n');
    const containerInspect = await daemon.berth(['container', 'inspect', 'ghost']);
    assert.equal(containerInspect.code, 1);
    assert.equal(containerInspect.stderr, 'Error response from daemon: No such container: ghost\n');
  });
});

test('duplicate name: 409 with Docker\'s wording, nothing left by the second create', async () => {
  const id = (await daemon.berth(['create', '--name', 'taken', 'busybox'])).stdout.trim();
  await leavesNothing(async () => {
    const response = await daemon.api('POST', '/containers/create?name=taken', { Image: 'busybox' });
    assert.equal(response.status, 409);
    assert.equal(message(response), `Conflict. The container name "/taken" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
    const viaDocker = await daemon.docker(['create', '--name', 'taken', 'busybox']);
    assert.notEqual(viaDocker.code, 0);
    assert.match(viaDocker.stderr, /Conflict\. The container name "\/taken" is already in use/);
    const viaRun = await daemon.berth(['run', '--name', 'taken', 'busybox', 'true']);
    assert.equal(viaRun.code, 125);
    assert.match(viaRun.stderr, /Conflict\. The container name "\/taken" is already in use/);
  });
  await daemon.berth(['rm', id]);
});

test('bad request parameters: 400 and the CLI\'s flag errors, nothing left', async () => {
  await leavesNothing(async () => {
    const badSize = await daemon.berth(['run', '-m', 'abc', 'busybox', 'true']);
    assert.equal(badSize.code, 125);
    assert.match(badSize.stderr, /^invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'\n/);
    const dockerBadSize = await daemon.docker(['run', '-m', 'abc', 'busybox', 'true']);
    assert.equal(dockerBadSize.code, 125);

    const malformed = await daemon.api('POST', '/containers/create', '{"Image": "busybox",');
    assert.equal(malformed.status, 400, malformed.body);
    assert.ok(message(malformed).length > 0);

    const tooLittle = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Memory: 4 * 1024 * 1024 } });
    assert.equal(tooLittle.status, 400);
    assert.equal(message(tooLittle), 'Minimum memory limit allowed is 6MB');
    const cliTooLittle = await daemon.berth(['run', '-m', '4m', 'busybox', 'true']);
    assert.equal(cliTooLittle.code, 125);
    assert.match(cliTooLittle.stderr, /Minimum memory limit allowed is 6MB/);

    const runtime = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Runtime: 'nosuchruntime' } });
    assert.equal(runtime.status, 400);
    assert.equal(message(runtime), 'Unknown runtime specified nosuchruntime');

    const name = await daemon.api('POST', '/containers/create?name=bad%2Fname', { Image: 'busybox' });
    assert.equal(name.status, 400);
    assert.equal(message(name), 'Invalid container name (bad/name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
    const cliName = await daemon.berth(['create', '--name', '-bad', 'busybox']);
    assert.notEqual(cliName.code, 0);
    assert.match(cliName.stderr, /Invalid container name \(-bad\)/);

  });
});

test('rm of a running container without -f: 409; rmi of an image a container uses: 409', async () => {
  const id = (await daemon.berth(['run', '-d', 'busybox', 'sleep', '300'])).stdout.trim();
  try {
    await leavesNothing(async () => {
      const rm = await daemon.api('DELETE', `/containers/${id}`);
      assert.equal(rm.status, 409);
      assert.equal(message(rm), `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
      const cliRm = await daemon.berth(['rm', id.slice(0, 12)]);
      assert.equal(cliRm.code, 1);
      assert.match(cliRm.stderr, /You cannot remove a running container/);
      const imageId = (await daemon.berth(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
      const rmiById = await daemon.api('DELETE', `/images/${imageId}`);
      assert.equal(rmiById.status, 409);
      assert.equal(message(rmiById), `conflict: unable to delete ${imageId.slice(7, 19)} (cannot be forced) - image is being used by running container ${id.slice(0, 12)}`);
      const rmiForce = await daemon.berth(['rmi', '-f', imageId]);
      assert.notEqual(rmiForce.code, 0);
      assert.match(rmiForce.stderr, /cannot be forced/);
    });
    assert.equal((await daemon.berth(['inspect', '-f', '{{.State.Running}}', id])).stdout, 'true\n');
    await daemon.berth(['stop', '-t', '0', id]);
    await leavesNothing(async () => {
      const rmi = await daemon.berth(['rmi', 'busybox']);
      assert.equal(rmi.code, 1);
      assert.match(rmi.stderr, new RegExp(`conflict: unable to remove repository reference "busybox" \\(must force\\) - container ${id.slice(0, 12)} is using its referenced image [0-9a-f]{12}`));
    });
    assert.equal((await daemon.berth(['images', '-q', 'busybox'])).stdout.trim().length, 12);
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
});

test('a start that fails (command not found) leaves no mount, cgroup or process, and the container can be removed', async () => {
  const before = await snapshot();
  const id = (await daemon.berth(['create', 'busybox', 'nosuchcommand'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const start = await daemon.api('POST', `/containers/${id}/start`);
  assert.equal(start.status, 400, start.body);
  assert.match(message(start), /exec: "nosuchcommand": executable file not found in \$PATH/);
  const cliStart = await daemon.berth(['start', id]);
  assert.equal(cliStart.code, 1);
  assert.match(cliStart.stderr, /executable file not found/);
  const after = await snapshot();
  assert.deepEqual(after.mounts, before.mounts);
  assert.deepEqual(after.cgroups, before.cgroups);
  assert.deepEqual(after.conmons, before.conmons);
  assert.deepEqual(after.containers, [...before.containers, id].sort());
  const state = (await daemon.api('GET', `/containers/${id}/json`)).json();
  assert.equal(state.State.Status, 'created');
  assert.equal(state.State.Running, false);
  assert.match(state.State.Error, /executable file not found/);
  assert.equal(state.State.ExitCode, 127);
  const rm = await daemon.berth(['rm', id]);
  assert.equal(rm.code, 0, JSON.stringify(rm));
  assert.deepEqual(await snapshot(), before);
});

test('a failed run --rm removes its container and leaves nothing', async () => {
  await leavesNothing(async () => {
    const notFound = await daemon.berth(['run', '--rm', 'busybox', 'nosuchcommand'], { timeoutMs: 15_000 });
    assert.equal(notFound.code, 127, JSON.stringify(notFound));
    const notExecutable = await daemon.docker(['run', '--rm', 'busybox', '/etc/passwd'], { timeoutMs: 15_000 });
    assert.equal(notExecutable.code, 126, JSON.stringify(notExecutable));
    assert.match(notExecutable.stderr, /^docker: Error response from daemon: .*permission denied/);
  });
});
