// exec: commands run in a running container — output, exit codes, -e/-w/-u, -d, -i, -t (in a
// real terminal, tmux), resize, detach keys, inspect, events and Docker's errors — with berth,
// with the docker CLI and through the API; and no exec session leaves anything behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { EngineClient } from '../../src/client/engine-client.js';
import { ExecService, MAX_PROBE_OUTPUT } from '../../src/containers/exec.js';
import type { ContainerService } from '../../src/containers/service.js';
import { OciRuntime } from '../../src/runtime/oci-runtime.js';
import { StreamDemuxer } from '../../src/wire/stdcopy.js';
import { BERTH, eventually, processAlive, useDaemon, collectStream } from './harness.js';
import { Terminal } from './terminal.js';

const daemon = useDaemon();
let boxId = '';

/** The container most tests exec into, made by the first test that needs it. */
async function box(): Promise<string> {
  if (!boxId) boxId = (await daemon.berthOk(['run', '-d', '--name', 'box', 'busybox', 'sleep', '1000'])).trim();
  return boxId;
}

function client(): EngineClient {
  return new EngineClient({ host: daemon.host });
}

async function createExec(container: string, config: Record<string, unknown>): Promise<string> {
  const response = await daemon.api('POST', `/containers/${container}/exec`, config);
  assert.equal(response.status, 201, response.body);
  const { Id } = response.json() as { Id: string };
  assert.match(Id, /^[0-9a-f]{64}$/);
  return Id;
}

async function inspectExec(id: string): Promise<Record<string, any>> {
  return (await daemon.api('GET', `/exec/${id}/json`)).json();
}

/** Exec session directories and attach-socket links of a container (of some of its execs): none once they ended. */
function sessionLeftovers(containerId: string, execIds?: string[]): string[] {
  const sessions = join(daemon.execRoot, 'shims', containerId, 'execs');
  const left = existsSync(sessions) ? readdirSync(sessions) : [];
  const sockets = join(daemon.execRoot, 'sockets');
  for (const name of existsSync(sockets) ? readdirSync(sockets) : []) {
    try {
      if (readlinkSync(join(sockets, name)).includes(`/${containerId}/execs/`)) left.push(name);
    } catch { /* not a link */ }
  }
  return execIds ? left.filter((name) => execIds.includes(name)) : left;
}


function demux(data: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (const frame of new StreamDemuxer().push(data)) {
    if (frame.stream === 1) out.stdout += frame.payload.toString();
    if (frame.stream === 2) out.stderr += frame.payload.toString();
  }
  return out;
}

test('berth exec: output, exit code, -e, --env-file, -w, -u', async () => {
  await box();
  const result = await daemon.berth(['exec', 'box', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual(result, { code: 3, stdout: 'out\n', stderr: 'err\n' });

  const envFile = join(daemon.root, 'exec.env');
  await import('node:fs/promises').then((fs) => fs.writeFile(envFile, '# comment\nFROM_FILE=file\nFOO=overridden\n'));
  const options = await daemon.berthOk(['exec', '-e', 'FOO=bar', '--env-file', envFile, '-w', '/tmp', '-u', 'nobody', 'box',
    'sh', '-c', 'echo $FOO $FROM_FILE $HOME; pwd; id -u; id -g']);
  assert.equal(options, 'bar file /home\n/tmp\n65534\n65534\n');
  assert.equal(await daemon.berthOk(['exec', '-u', '1234:5678', 'box', 'sh', '-c', 'id -u; id -g']), '1234\n5678\n');
  // The container's environment, with HOSTNAME and the default PATH, is the exec's too.
  assert.match(await daemon.berthOk(['exec', 'box', 'env']), new RegExp(`^HOSTNAME=${boxId.slice(0, 12)}$`, 'm'));

  const missing = await daemon.berth(['exec', 'box', 'nosuchcommand']);
  assert.equal(missing.code, 127);
  assert.match(missing.stdout, /OCI runtime exec failed: .*"nosuchcommand": executable file not found in \$PATH: unknown/);
  const notExecutable = await daemon.berth(['exec', 'box', '/etc/passwd']);
  assert.equal(notExecutable.code, 126);
  const badUser = await daemon.berth(['exec', '-u', 'nosuchuser', 'box', 'true']);
  assert.equal(badUser.code, 1);
  assert.equal(badUser.stderr, 'Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file\n');
  assert.deepEqual(sessionLeftovers(boxId), []);
});

test('berth exec -d keeps the process running; -i passes piped stdin', async () => {
  await box();
  const detached = await daemon.berth(['exec', '-d', 'box', 'sh', '-c', 'echo started > /tmp/marker; exec sleep 77']);
  assert.deepEqual(detached, { code: 0, stdout: '', stderr: '' });
  await eventually(async () => (await daemon.berth(['exec', 'box', 'cat', '/tmp/marker'])).stdout === 'started\n', 5000, 'the marker');
  assert.match(await daemon.berthOk(['exec', 'box', 'ps']), /sleep 77/);

  const piped = await daemon.berth(['exec', '-i', 'box', 'sh', '-c', 'cat; echo done'], { input: 'hi\nthere\n' });
  assert.deepEqual(piped, { code: 0, stdout: 'hi\nthere\ndone\n', stderr: '' });
  const notTty = await daemon.berth(['exec', '-it', 'box', 'true'], { input: '' });
  assert.deepEqual(notTty, { code: 1, stdout: '', stderr: 'the input device is not a TTY\n' });
});

test('berth exec -t in a terminal: a tty of the window size, resize, exit code', async () => {
  await box();
  const terminal = new Terminal(`${process.execPath} ${BERTH} -H ${daemon.host} exec -it box sh`, { columns: 90, rows: 25 });
  try {
    await terminal.waitFor(/\/ # $/m);
    terminal.type('stty size; tty; echo $TERM');
    terminal.press('Enter');
    await terminal.waitFor(/^25 90\n\/dev\/pts\/\d+\nxterm$/m);
    terminal.resize(70, 20);
    await eventually(async () => {
      terminal.type('stty size');
      terminal.press('Enter');
      await terminal.waitFor(/^20 70$/m, 1000);
      return true;
    }, 10_000, 'the exec to see the new size');
    terminal.type('exit 6');
    terminal.press('Enter');
    await terminal.waitFor(/\[exit 6\]/);
  } finally {
    terminal.close();
  }
  // ctrl-p ctrl-q leaves the process running; the docker CLI says "read escape sequence".
  const detaching = new Terminal(`${process.execPath} ${BERTH} -H ${daemon.host} exec -it box sh -c 'echo ready; exec sleep 88'`);
  try {
    await detaching.waitFor(/ready/);
    detaching.press('C-p', 'C-q');
    await detaching.waitFor(/read escape sequence\n\[exit 1\]/);
  } finally {
    detaching.close();
  }
  assert.match(await daemon.berthOk(['exec', 'box', 'ps']), /sleep 88/);
});

test('API: inspect, ExecIDs, resize of a TTY exec, events', async () => {
  await box();
  const since = Math.floor(Date.now() / 1000) - 1;
  const id = await createExec('box', { Cmd: ['sh', '-c', 'while true; do stty size > /tmp/size; sleep 0.05; done'], Tty: true, DetachKeys: 'ctrl-x,y' });
  const created = await inspectExec(id);
  assert.deepEqual(created, {
    ID: id, Running: false, ExitCode: null,
    ProcessConfig: { tty: true, entrypoint: 'sh', arguments: ['-c', 'while true; do stty size > /tmp/size; sleep 0.05; done'], privileged: false, user: '' },
    OpenStdin: false, OpenStderr: false, OpenStdout: false, CanRemove: false, ContainerID: boxId, DetachKeys: Buffer.from([24, 121]).toString('base64'), Pid: 0,
  });
  assert.ok((await daemon.api('GET', '/containers/box/json')).json().ExecIDs.includes(id));

  const start = await daemon.api('POST', `/exec/${id}/start`, { Detach: true, Tty: true, ConsoleSize: [11, 22] });
  assert.equal(start.status, 200, start.body);
  const size = async () => (await daemon.berth(['exec', 'box', 'cat', '/tmp/size'])).stdout.trim();
  await eventually(async () => (await size()) === '11 22', 5000, 'the initial console size');
  const resized = await daemon.api('POST', `/exec/${id}/resize?h=40&w=120`);
  assert.equal(resized.status, 200, resized.body);
  await eventually(async () => (await size()) === '40 120', 5000, 'the new size');

  const running = await inspectExec(id);
  assert.equal(running.Running, true);
  assert.ok(running.Pid > 0 && processAlive(running.Pid));
  const again = await daemon.api('POST', `/exec/${id}/start`, { Detach: true });
  assert.deepEqual([again.status, again.json().message], [409, `exec command ${id} is already running`]);
  process.kill(running.Pid, 'SIGKILL');
  const ended = await eventually(async () => {
    const current = await inspectExec(id);
    return current.Running ? undefined : current;
  }, 5000, 'the exec to end');
  assert.equal(ended.ExitCode, 137);
  const usedUp = await daemon.api('POST', `/exec/${id}/start`, { Detach: true });
  assert.deepEqual([usedUp.status, usedUp.json().message], [409, `exec command ${id} has already run`]);
  assert.ok(!((await daemon.api('GET', '/containers/box/json')).json().ExecIDs ?? []).includes(id));

  const events = (await daemon.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}`)).body
    .trim().split('\n').map((line) => JSON.parse(line) as { Action: string; Actor: { Attributes: Record<string, string> } })
    .filter((event) => event.Actor.Attributes.execID === id);
  assert.deepEqual(events.map((event) => event.Action), [
    'exec_create: sh -c while true; do stty size > /tmp/size; sleep 0.05; done',
    'exec_start: sh -c while true; do stty size > /tmp/size; sleep 0.05; done',
    'exec_die',
  ]);
  assert.equal(events[2]!.Actor.Attributes.exitCode, '137');
  assert.equal(events[2]!.Actor.Attributes.name, 'box');
  await eventually(() => sessionLeftovers(boxId, [id]).length === 0 || undefined, 5000, 'the session files to go');
});

test('API: hijacked start, multiplexed and raw; server-side detach keys', async () => {
  await box();
  const api = client();
  try {
    const plain = await createExec('box', { Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 2'], AttachStdout: true, AttachStderr: true });
    const output = demux(await collectStream(await api.execAttach(plain, { Tty: false })));
    assert.deepEqual(output, { stdout: 'out\n', stderr: 'err\n' });
    assert.equal((await inspectExec(plain)).ExitCode, 2);

    const withInput = await createExec('box', { Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
    const socket = await api.execAttach(withInput, { Tty: false });
    const received = collectStream(socket);
    socket.end('piped in\n');
    assert.deepEqual(demux(await received), { stdout: 'piped in\n', stderr: '' });

    const tty = await createExec('box', { Cmd: ['sh', '-c', 'echo ready; exec sleep 99'], AttachStdin: true, AttachStdout: true, Tty: true });
    const session = await api.execAttach(tty, { Tty: true });
    let seen = '';
    session.on('data', (chunk: Buffer) => { seen += chunk.toString(); });
    const closed = new Promise((resolve) => session.once('close', resolve));
    await eventually(() => seen.includes('ready\r\n'), 5000, 'the exec to run');
    session.write(Buffer.from([16, 17]));
    await closed;
    const detached = await inspectExec(tty);
    assert.equal(detached.Running, true);
    process.kill(detached.Pid, 'SIGKILL');

    const failing = await createExec('box', { Cmd: ['nosuchcommand'], AttachStdout: true });
    const failure = demux(await collectStream(await api.execAttach(failing, { Tty: false })));
    assert.match(failure.stdout, /^OCI runtime exec failed: .*executable file not found in \$PATH: unknown\r\n$/);
    assert.equal((await inspectExec(failing)).ExitCode, 127);
    await eventually(() => sessionLeftovers(boxId, [plain, withInput, tty, failing]).length === 0 || undefined, 5000, 'the session files to go');
  } finally {
    api.close();
  }
});

test('errors as Docker words them; nothing is left behind', async () => {
  await box();
  const stopped = (await daemon.berthOk(['create', '--name', 'stopped', 'busybox', 'true'])).trim();
  const notRunning = await daemon.api('POST', '/containers/stopped/exec', { Cmd: ['true'] });
  assert.deepEqual([notRunning.status, notRunning.json().message], [409, `container ${stopped} is not running`]);
  const noContainer = await daemon.api('POST', '/containers/nosuch/exec', { Cmd: ['true'] });
  assert.deepEqual([noContainer.status, noContainer.json().message], [404, 'No such container: nosuch']);
  const emptyCmd = await daemon.api('POST', '/containers/box/exec', { Cmd: [] });
  assert.deepEqual([emptyCmd.status, emptyCmd.json().message], [400, 'No exec command specified']);
  for (const [method, path] of [['GET', '/exec/nosuch/json'], ['POST', '/exec/nosuch/start'], ['POST', '/exec/nosuch/resize?h=1&w=1']] as const) {
    const response = await daemon.api(method, path, method === 'POST' ? {} : undefined);
    assert.deepEqual([response.status, response.json().message], [404, 'No such exec instance: nosuch'], path);
  }
  // A non-TTY exec has no terminal to size: Docker (containerd) answers 200 and does nothing.
  const plain = await createExec('box', { Cmd: ['sleep', '5'] });
  assert.equal((await daemon.api('POST', `/exec/${plain}/start`, { Detach: true })).status, 200);
  assert.equal((await daemon.api('POST', `/exec/${plain}/resize?h=10&w=10`)).status, 200);
  const badSize = await daemon.api('POST', `/exec/${plain}/resize?h=x&w=10`);
  assert.equal(badSize.status, 400);
  process.kill((await inspectExec(plain)).Pid, 'SIGKILL');

  await daemon.berthOk(['run', '-d', '--name', 'frozen', 'busybox', 'sleep', '1000']);
  assert.equal((await daemon.api('POST', '/containers/frozen/pause')).status, 204);
  try {
    const paused = await daemon.api('POST', '/containers/frozen/exec', { Cmd: ['true'] });
    assert.deepEqual([paused.status, paused.json().message], [409, 'Container frozen is paused, unpause the container before exec']);
  } finally {
    await daemon.api('POST', '/containers/frozen/unpause');
  }

  // An exec still running when its container stops dies with it; its files go.
  const frozenId = (await daemon.api('GET', '/containers/frozen/json')).json().Id as string;
  const long = await createExec('frozen', { Cmd: ['sleep', '1000'] });
  await daemon.api('POST', `/exec/${long}/start`, { Detach: true });
  const pid = (await inspectExec(long)).Pid as number;
  await daemon.berthOk(['rm', '-f', 'frozen']);
  await eventually(() => !processAlive(pid), 5000, 'the exec process to die with its container');
  const gone = await daemon.api('GET', `/exec/${long}/json`);
  assert.equal(gone.status, 404);
  await eventually(() => sessionLeftovers(frozenId).length === 0 || undefined, 5000, 'the session files to go');
});

test('docker CLI: exec, exit codes, -d, -i, -e/-w/-u, errors', async () => {
  await box();
  assert.deepEqual(await daemon.docker(['exec', 'box', 'sh', '-c', 'echo hi; echo oops >&2; exit 7']), { code: 7, stdout: 'hi\n', stderr: 'oops\n' });
  assert.equal(await daemon.dockerOk(['exec', '-e', 'A=1', '-w', '/etc', '-u', 'nobody', 'box', 'sh', '-c', 'echo $A; pwd; id -u']), '1\n/etc\n65534\n');
  assert.deepEqual(await daemon.docker(['exec', '-i', 'box', 'cat'], { input: 'from docker\n' }), { code: 0, stdout: 'from docker\n', stderr: '' });
  assert.deepEqual(await daemon.docker(['exec', '-d', 'box', 'sh', '-c', 'echo docker > /tmp/docker-marker']), { code: 0, stdout: '', stderr: '' });
  await eventually(async () => (await daemon.berth(['exec', 'box', 'cat', '/tmp/docker-marker'])).stdout === 'docker\n', 5000, 'the docker -d marker');

  const missing = await daemon.docker(['exec', 'box', 'nosuchcommand']);
  assert.equal(missing.code, 127);
  assert.match(missing.stdout, /executable file not found in \$PATH/);
  const stopped = await daemon.docker(['exec', 'stopped', 'true']);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /^Error response from daemon: container [0-9a-f]{64} is not running\n$/);
  const noContainer = await daemon.docker(['exec', 'nosuch', 'true']);
  assert.deepEqual([noContainer.code, noContainer.stderr], [1, 'Error response from daemon: No such container: nosuch\n']);
});

test('docker CLI: exec -it in a terminal', async () => {
  await box();
  const terminal = new Terminal(`DOCKER_HOST=${daemon.host} DOCKER_CONFIG=${daemon.dockerConfig} docker exec -it box sh -c 'stty size; tty; exit 4'`, { columns: 81, rows: 21 });
  try {
    await terminal.waitFor(/^21 81\n\/dev\/pts\/\d+\n\[exit 4\]/m);
  } finally {
    terminal.close();
  }
});

test('ExecService.run (health probes): exit code, output kept to 4 KiB, timeout kills the process', async () => {
  const id = await box();
  const record = (await daemon.api('GET', `/containers/${id}/json`)).json() as { Id: string; Name: string; State: Record<string, unknown>; Config: Record<string, unknown>; HostConfig: Record<string, unknown> };
  const containerDir = join(daemon.dataRoot, 'containers', id);
  const published: string[] = [];
  // The service needs only these parts of the container service; they point at the test daemon's container.
  const containers = {
    lifecycle: new EventEmitter(),
    get: () => ({ id, name: record.Name, state: record.State, config: record.Config, hostConfig: record.HostConfig }),
    find: () => ({ id }),
    all: () => [],
    paths: () => ({
      rootfs: join(containerDir, 'fs', 'merged'), bundle: join(containerDir, 'bundle'),
      shimDir: join(daemon.execRoot, 'shims', id), socketRoot: join(daemon.execRoot, 'sockets'),
    }),
    publishEvent: (_record: unknown, action: string) => { published.push(action); },
    runtimeOf: () => new OciRuntime('crun', '/usr/bin/crun', join(daemon.execRoot, 'runtime', 'crun')),
  } as unknown as ContainerService;
  const execs = new ExecService({ containers, hostCapabilities: [] });

  assert.deepEqual(await execs.run(id, ['sh', '-c', 'echo out; echo err >&2; exit 4'], { timeoutMs: 5000 }), { exitCode: 4, output: 'out\nerr\n' });
  assert.deepEqual(await execs.run(id, ['sh', '-c', 'echo "$HC $(id -u)"'], { timeoutMs: 5000, env: ['HC=yes'], user: 'nobody' }), { exitCode: 0, output: 'yes 65534\n' });
  const long = await execs.run(id, ['sh', '-c', 'head -c 10000 /dev/zero | tr "\\0" x'], { timeoutMs: 5000 });
  assert.deepEqual([long.exitCode, long.output.length, /^x+$/.test(long.output)], [0, MAX_PROBE_OUTPUT, true]);

  const started = Date.now();
  const timedOut = await execs.run(id, ['sleep', '30'], { timeoutMs: 300 });
  assert.deepEqual(timedOut, { exitCode: -1, output: 'Health check exceeded timeout (300ms)' });
  assert.ok(Date.now() - started < 5000);
  assert.doesNotMatch(await daemon.berthOk(['exec', 'box', 'ps']), /sleep 30/);
  await assert.rejects(execs.run(id, ['nosuchprobe'], { timeoutMs: 5000 }), /executable file not found in \$PATH/);
  assert.ok(published.includes('exec_die') && published.some((action) => action.startsWith('exec_create: sleep 30')));
  assert.equal(execs.execIds(id).length, 0);
});
