// Pull and push against a real registry (Debian's docker-registry, plain HTTP on loopback):
// push from one daemon, pull into another; the docker CLI pulls and pushes through berthd;
// a corrupted blob or a missing tag fails as Docker fails, leaving nothing behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, statSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { TestDaemon, processAlive, sleep, useDaemon, freePort } from './harness.js';

const source = useDaemon();
const target = useDaemon({ busybox: false });

let registryDir = '';
let registry: ChildProcess | undefined;
let port = 0;
const repo = () => `127.0.0.1:${port}/me/busybox`;


before(async () => {
  port = await freePort();
  registryDir = mkdtempSync('/tmp/berth-registry-');
  writeFileSync(join(registryDir, 'config.yml'), [
    'version: 0.1',
    'log:', '  level: error',
    'storage:', '  filesystem:', `    rootdirectory: ${join(registryDir, 'data')}`, '  delete:', '    enabled: true',
    'http:', `  addr: 127.0.0.1:${port}`, '',
  ].join('\n'));
  registry = spawn('/usr/bin/docker-registry', ['serve', join(registryDir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((response) => response.ok, () => false);
    if (ok) return;
    await sleep(50);
  }
  throw new Error('docker-registry did not start');
});

after(() => {
  registry?.kill('SIGKILL');
  rmSync(registryDir, { recursive: true, force: true });
});

function layerCount(daemon: TestDaemon): number {
  return readdirSync(join(daemon.dataRoot, 'layers')).filter((name) => /^[0-9a-f]{64}$/.test(name)).length;
}

let pushedDigest = '';

test('berth push uploads the image and prints the digest like docker', async () => {
  assert.equal((await source.berth(['tag', 'busybox', repo()])).code, 0);
  const pushed = await source.berth(['push', repo()]);
  assert.equal(pushed.code, 0, pushed.stderr + source.log);
  assert.match(pushed.stdout, new RegExp(`The push refers to repository \\[${repo().replace(/\./g, '\\.')}\\]`));
  assert.match(pushed.stdout, /: Pushed\n/);
  const digest = /latest: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(pushed.stdout);
  assert.ok(digest, pushed.stdout);
  pushedDigest = digest[1]!;
  const again = await source.berth(['push', repo()]);
  assert.match(again.stdout, /Layer already exists/);
  assert.match(again.stdout, new RegExp(`latest: digest: ${pushedDigest}`));
  const inspect = (await source.api('GET', `/images/${repo()}/json`)).json() as { RepoDigests: string[] };
  assert.deepEqual(inspect.RepoDigests, [`${repo()}@${pushedDigest}`]);
});

test('berth pull into another daemon: same image ID, repo digest, and it runs', async () => {
  const pulled = await target.berth(['pull', repo()]);
  assert.equal(pulled.code, 0, pulled.stderr + target.log);
  assert.match(pulled.stdout, /latest: Pulling from me\/busybox\n/);
  assert.match(pulled.stdout, /: Pull complete\n/);
  assert.match(pulled.stdout, new RegExp(`Digest: ${pushedDigest}\n`));
  assert.match(pulled.stdout, new RegExp(`Status: Downloaded newer image for ${repo().replace(/\./g, '\\.')}:latest\n`));
  const sourceImage = (await source.api('GET', `/images/${repo()}/json`)).json() as { Id: string };
  const targetImage = (await target.api('GET', `/images/${repo()}/json`)).json() as { Id: string; RepoDigests: string[]; RepoTags: string[] };
  assert.equal(targetImage.Id, sourceImage.Id);
  assert.deepEqual(targetImage.RepoTags, [`${repo()}:latest`]);
  assert.deepEqual(targetImage.RepoDigests, [`${repo()}@${pushedDigest}`]);
  const run = await target.berth(['run', '--rm', repo(), 'echo', 'pulled']);
  assert.equal(run.stdout, 'pulled\n', run.stderr);
  const again = await target.berth(['pull', repo()]);
  // As dockerd: an image already there gets no per-layer lines, only the digest and the status.
  assert.doesNotMatch(again.stdout, /Pulling fs layer/);
  assert.match(again.stdout, /Status: Image is up to date/);
});

test('pull by digest; the docker CLI pulls and pushes through berthd', async () => {
  assert.equal((await target.berth(['rmi', `${repo()}:latest`])).code, 0);
  const byDigest = await target.docker(['pull', `${repo()}@${pushedDigest}`]);
  assert.equal(byDigest.code, 0, byDigest.stderr + target.log);
  const images = (await target.api('GET', '/images/json')).json() as Array<{ RepoDigests: string[]; RepoTags: string[] }>;
  assert.ok(images.some((image) => image.RepoDigests.includes(`${repo()}@${pushedDigest}`)), JSON.stringify(images));
  const pulled = await target.docker(['pull', repo()]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, /Digest: sha256:/);
  assert.equal((await target.docker(['tag', repo(), `127.0.0.1:${port}/me/other:v1`])).code, 0);
  const pushed = await target.docker(['push', `127.0.0.1:${port}/me/other:v1`]);
  assert.equal(pushed.code, 0, pushed.stderr + target.log);
  assert.match(pushed.stdout, new RegExp(`v1: digest: ${pushedDigest} size: \\d+`), 'a pulled image pushes with the same digests');
});

test('a missing tag fails before streaming with Docker\'s message', async () => {
  const result = await target.berth(['pull', `127.0.0.1:${port}/me/nothing`]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`Error response from daemon: manifest for 127\\.0\\.0\\.1:${port}/me/nothing:latest not found: manifest unknown: manifest unknown`));
  const api = await target.api('POST', `/images/create?fromImage=127.0.0.1:${port}/me/busybox&tag=nope`);
  assert.equal(api.status, 404);
});

/** Sends a raw request on the daemon's socket and leaves as told: before any answer, or at its first byte (abruptly or half-closing). */
function leaveTransfer(daemon: TestDaemon, path: string, when: 'before-answer' | 'first-byte-destroy' | 'first-byte-half-close'): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(daemon.socket, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n`);
      if (when === 'before-answer') socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.once('data', () => (when === 'first-byte-half-close' ? socket.end() : socket.destroy()));
    socket.on('close', () => resolve());
  });
}

function daemonPid(daemon: TestDaemon): number {
  return Number(readFileSync(join(daemon.root, 'berthd.pid'), 'utf8').trim());
}

test('a client that leaves a pull or push progress stream ends only its own transfer', async (t) => {
  const fresh = new TestDaemon();
  t.after(() => fresh.cleanup());
  await fresh.start();
  await fresh.importBusybox();
  const pid = daemonPid(fresh);
  const fds = () => readdirSync(`/proc/${pid}/fd`).length;
  const baseline = fds();
  for (const when of ['before-answer', 'first-byte-destroy', 'first-byte-half-close'] as const) {
    await leaveTransfer(fresh, `/v1.43/images/create?fromImage=${encodeURIComponent(repo())}&tag=latest`, when);
    assert.equal((await fresh.api('POST', `/images/busybox/tag?repo=${encodeURIComponent(`127.0.0.1:${port}/me/left-${when}`)}`)).status, 201);
    await leaveTransfer(fresh, `/v1.43/images/${encodeURIComponent(`127.0.0.1:${port}/me/left-${when}`)}/push?tag=latest`, when);
    await sleep(300);
    assert.ok(processAlive(pid), `berthd died after leaving at ${when}:\n${fresh.log}`);
    assert.equal(daemonPid(fresh), pid, `berthd restarted after leaving at ${when}`);
    assert.equal((await fresh.api('GET', '/_ping')).status, 200, `no /_ping after leaving at ${when}:\n${fresh.log}`);
  }
  // Every image listed is whole, a pull and a push from the start work, and nothing stays open.
  for (const image of (await fresh.api('GET', '/images/json')).json() as Array<{ Id: string }>) {
    assert.equal((await fresh.api('GET', `/images/${image.Id}/json`)).status, 200);
  }
  const pulled = await fresh.berth(['pull', repo()]);
  assert.equal(pulled.code, 0, pulled.stderr + fresh.log);
  assert.equal((await fresh.berth(['run', '--rm', repo(), 'echo', 'whole'])).stdout, 'whole\n');
  const pushed = await fresh.berth(['push', `127.0.0.1:${port}/me/left-first-byte-destroy`]);
  assert.equal(pushed.code, 0, pushed.stderr + fresh.log);
  for (let i = 0; i < 80 && fds() > baseline + 4; i++) await sleep(100);
  assert.ok(fds() <= baseline + 4, `berthd holds ${fds()} fds, ${baseline} before`);
});

test('a corrupted layer blob fails the pull with a digest error and stores nothing', async (t) => {
  const manifest = JSON.parse(readFileSync(join(registryDir, 'data/docker/registry/v2/blobs/sha256', pushedDigest.slice(7, 9), pushedDigest.slice(7), 'data'), 'utf8')) as { layers: Array<{ digest: string }> };
  const layerHex = manifest.layers[0]!.digest.slice(7);
  const blobPath = join(registryDir, 'data/docker/registry/v2/blobs/sha256', layerHex.slice(0, 2), layerHex, 'data');
  writeFileSync(blobPath, Buffer.alloc(statSync(blobPath).size, 7));
  const fresh = new TestDaemon();
  t.after(() => fresh.cleanup());
  await fresh.start();
  const result = await fresh.berth(['pull', repo()]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stderr, new RegExp(`filesystem layer verification failed for digest sha256:${layerHex}`));
  assert.deepEqual((await fresh.api('GET', '/images/json')).json(), []);
  assert.equal(layerCount(fresh), 0);
  const blobs = readdirSync(join(fresh.dataRoot, 'content', 'blobs', 'sha256'));
  assert.deepEqual(blobs, []);
});
