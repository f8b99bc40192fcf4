// Bytes are bytes: every stream berthd carries (run and attach output, logs, exec, stdin, cp,
// export, import, save/load) gives back 1 MiB of random bytes unchanged, with and without a TTY, and
// output is framed per write of the process, not per line. The daemon runs with an exec root
// whose conmon attach-socket paths are longer than a unix socket address can hold, so every
// stdin test also proves that input reaches the container through such a path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineClient } from '../../src/client/engine-client.js';
import { StreamDemuxer, type Frame } from '../../src/wire/stdcopy.js';
import { BERTH, childEnv, useDaemon, collectStream } from './harness.js';

const daemon = useDaemon({ execRootName: 'x'.repeat(90) });
const data = randomBytes(1 << 20);
const dataSha = sha(data);

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface BinaryResult { code: number; stdout: Buffer; stderr: Buffer }

/** The docker CLI with its output kept as bytes (the harness decodes it as text). */
function docker(args: string[], input?: Buffer): Promise<BinaryResult> {
  return run('docker', args, input);
}

/** Our CLI, likewise. */
function berth(args: string[], input?: Buffer): Promise<BinaryResult> {
  return run(process.execPath, [BERTH, '-H', daemon.host, ...args], input);
}

function run(file: string, args: string[], input?: Buffer): Promise<BinaryResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      env: childEnv({ DOCKER_HOST: daemon.host, DOCKER_CONFIG: daemon.dockerConfig, DOCKER_CLI_HINTS: 'false' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

async function dockerOk(args: string[], input?: Buffer): Promise<BinaryResult> {
  const result = await docker(args, input);
  assert.equal(result.code, 0, `docker ${args.join(' ')}: ${result.stderr.toString()}\n${daemon.log}`);
  return result;
}

/** The sha256 of a file in a container, as sha256sum there computes it. */
async function shaInContainer(container: string, path: string): Promise<string> {
  return (await dockerOk(['exec', container, 'sha256sum', path])).stdout.toString().split(' ')[0]!;
}

/** A container made from busybox with the random data at /data, not started. */
async function containerWithData(name: string, options: string[], cmd: string): Promise<void> {
  await dockerOk(['create', '--name', name, ...options, 'busybox', 'sh', '-c', cmd]);
  const file = join(daemon.root, 'data.bin');
  await writeFile(file, data);
  await dockerOk(['cp', file, `${name}:/data`]);
}


function frames(bytes: Buffer): Frame[] {
  const demuxer = new StreamDemuxer();
  const result = demuxer.push(bytes);
  assert.equal(demuxer.pendingBytes, 0, 'the stream ends with a whole frame');
  return result;
}

function streamBytes(all: Frame[], stream: number): Buffer {
  return Buffer.concat(all.filter((frame) => frame.stream === stream).map((frame) => frame.payload));
}

function apiGet(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: daemon.socket, method: 'GET', path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the exec root makes attach-socket paths longer than a unix socket address; stdin still arrives', async () => {
  const socketPath = join(daemon.execRoot, 'sockets', 'f'.repeat(64), 'attach');
  assert.ok(Buffer.byteLength(socketPath) > 107, socketPath);
  assert.equal((await dockerOk(['run', '-i', '--rm', 'busybox', 'cat'], Buffer.from('hi\n'))).stdout.toString(), 'hi\n');
});

test('run -i: stdin in, stdout and stderr out (demultiplexed by the docker CLI), unchanged', async () => {
  const out = await dockerOk(['run', '-i', '--rm', 'busybox', 'cat'], data);
  assert.equal(sha(out.stdout), dataSha);
  const err = await dockerOk(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat >&2'], data);
  assert.equal(sha(err.stderr), dataSha);
  assert.equal(err.stdout.length, 0);
});

test('start -a and logs (docker logs and the API), without a TTY: stdout and stderr each unchanged', async () => {
  await containerWithData('plain', [], 'cat /data; cat /data >&2');
  const attached = await dockerOk(['start', '-a', 'plain']);
  assert.equal(sha(attached.stdout), dataSha);
  assert.equal(sha(attached.stderr), dataSha);
  const logs = await dockerOk(['logs', 'plain']);
  assert.equal(sha(logs.stdout), dataSha);
  assert.equal(sha(logs.stderr), dataSha);
  const api = frames(await apiGet('/containers/plain/logs?stdout=1&stderr=1'));
  assert.equal(sha(streamBytes(api, 1)), dataSha);
  assert.equal(sha(streamBytes(api, 2)), dataSha);
  const onlyStderr = frames(await apiGet('/containers/plain/logs?stderr=1'));
  assert.ok(onlyStderr.every((frame) => frame.stream === 2));
  assert.equal(sha(streamBytes(onlyStderr, 2)), dataSha);
});

test('start -a and logs with a TTY in raw mode: the bytes unchanged, raw (not multiplexed)', async () => {
  // `stty raw` turns off the pty's output processing (\n -> \r\n), as Docker users do for binary output.
  await containerWithData('tty', ['-t'], 'stty raw; cat /data');
  assert.equal(sha((await dockerOk(['start', '-a', 'tty'])).stdout), dataSha);
  assert.equal(sha((await dockerOk(['logs', 'tty'])).stdout), dataSha);
  assert.equal(sha(await apiGet('/containers/tty/logs?stdout=1&stderr=1')), dataSha);
  // Without raw mode the pty turns each \n into \r\n, exactly as under Docker.
  await dockerOk(['create', '--name', 'cooked', '-t', 'busybox', 'printf', 'a\\nb\\0\\377\\n']);
  assert.deepEqual((await dockerOk(['start', '-a', 'cooked'])).stdout, Buffer.from('a\r\nb\0\xff\r\n', 'latin1'));
});

test('attach (API) to a running container: both streams unchanged', async () => {
  await containerWithData('attached', [], 'while [ ! -e /go ]; do sleep 0.1; done; cat /data; cat /data >&2');
  await dockerOk(['start', 'attached']);
  const socket = await new EngineClient({ host: daemon.host }).hijack('/containers/attached/attach', { stream: '1', stdout: '1', stderr: '1' });
  const output = collectStream(socket);
  await dockerOk(['exec', 'attached', 'touch', '/go']);
  const all = frames(await output);
  assert.equal(sha(streamBytes(all, 1)), dataSha);
  assert.equal(sha(streamBytes(all, 2)), dataSha);
});

test('exec: output with and without a TTY, stdin in, cp both ways, export, save and load', async () => {
  await containerWithData('box', [], 'sleep 1000');
  await dockerOk(['start', 'box']);
  assert.equal(await shaInContainer('box', '/data'), dataSha, 'docker cp into the container');

  const out = await dockerOk(['exec', 'box', 'cat', '/data']);
  assert.equal(sha(out.stdout), dataSha);
  assert.equal(sha((await dockerOk(['exec', 'box', 'sh', '-c', 'cat /data >&2'])).stderr), dataSha);
  assert.equal(sha((await dockerOk(['exec', '-t', 'box', 'sh', '-c', 'stty raw; cat /data'])).stdout), dataSha);

  await dockerOk(['exec', '-i', 'box', 'sh', '-c', 'cat > /from-exec'], data);
  assert.equal(await shaInContainer('box', '/from-exec'), dataSha);
  await dockerOk(['run', '-i', '--name', 'stdin-run', 'busybox', 'sh', '-c', 'cat > /from-run'], data);
  const copied = join(daemon.root, 'from-run');
  await dockerOk(['cp', 'stdin-run:/from-run', copied]);
  assert.equal(sha(await readFile(copied)), dataSha, 'docker run -i then docker cp out');
  const archive = await dockerOk(['cp', 'box:/data', '-']);
  assert.equal(sha(execFileSync('tar', ['-xO', 'data'], { input: archive.stdout, maxBuffer: 64 << 20 })), dataSha, 'docker cp out as a tar stream');

  const exported = await dockerOk(['export', 'box']);
  assert.equal(sha(execFileSync('tar', ['-xO', 'data'], { input: exported.stdout, maxBuffer: 64 << 20 })), dataSha);

  // berthd has no commit: the exported root, imported, is the image to save.
  await dockerOk(['import', '-', 'bytes/saved:1'], exported.stdout);
  const saved = await dockerOk(['save', 'bytes/saved:1']);
  await dockerOk(['rmi', 'bytes/saved:1']);
  await dockerOk(['load'], saved.stdout);
  assert.equal(sha((await dockerOk(['run', '--rm', 'bytes/saved:1', 'cat', '/data'])).stdout), dataSha);
});

test('output is framed per write, not per line: attach and exec', async () => {
  const script = "printf 'a\\nb\\nc'; sleep 0.5; printf 'd\\ne'; sleep 0.5; printf 'x\\ny\\n' >&2";
  const expected = [[1, 'a\nb\nc'], [1, 'd\ne'], [2, 'x\ny\n']];
  const client = new EngineClient({ host: daemon.host });

  await dockerOk(['create', '--name', 'writes', 'busybox', 'sh', '-c', script]);
  const socket = await client.hijack('/containers/writes/attach', { stream: '1', stdout: '1', stderr: '1' });
  const output = collectStream(socket);
  await dockerOk(['start', 'writes']);
  assert.deepEqual(frames(await output).map((frame) => [frame.stream, frame.payload.toString()]), expected);

  await dockerOk(['run', '-d', '--name', 'writes-exec', 'busybox', 'sleep', '1000']);
  const created = await daemon.api('POST', '/containers/writes-exec/exec', { Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true });
  const { Id } = created.json() as { Id: string };
  const execSocket = await client.hijack(`/exec/${Id}/start`, undefined, { Detach: false, Tty: false });
  assert.deepEqual(frames(await collectStream(execSocket)).map((frame) => [frame.stream, frame.payload.toString()]), expected);
});

test('the berth CLI carries the same bytes: run -i, exec, logs', async () => {
  const out = await berth(['run', '-i', '--name', 'berth-cli', 'busybox', 'cat'], data);
  assert.equal(out.code, 0, out.stderr.toString());
  assert.equal(sha(out.stdout), dataSha);
  assert.equal(sha((await berth(['logs', 'berth-cli'])).stdout), dataSha);
  await dockerOk(['run', '-d', '--name', 'berth-exec', 'busybox', 'sleep', '1000']);
  const piped = await berth(['exec', '-i', 'berth-exec', 'sh', '-c', 'cat >&2'], data);
  assert.equal(piped.code, 0);
  assert.equal(sha(piped.stderr), dataSha);
});
