// Pull and push transfers against a real registry (Debian's docker-registry on loopback),
// seen through a small proxy of the test's own that logs every request, slows blob downloads
// down and can cut one mid-blob: Docker's progress messages over the API (pull and push),
// the docker CLI's and berth's in-place display under a pseudo-terminal, pull -a, --platform
// from an OCI index, cross-repository mounts, chunked uploads of big layers, concurrent pulls
// sharing their downloads, a pull whose client is killed (nothing left, a retry works) and a
// download resumed after the registry connection broke. Images are made by hand in the
// registry (random layers, configs, manifests, an index) so that sizes and platforms are known.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BERTH, childEnv, eventually, runCommand, sleep, useDaemon, freePort } from './harness.js';

const daemon = useDaemon();

let registryDir = '';
let registry: ChildProcess | undefined;
let registryPort = 0;

// ---- a proxy in front of the registry -------------------------------------------------------

interface LoggedRequest { method: string; url: string; range?: string; contentRange?: string; status?: number }

class RegistryProxy {
  readonly log: LoggedRequest[] = [];
  /** Bytes per second of blob downloads; 0: as fast as the registry answers. */
  throttle = 0;
  /** Blob digest -> bytes sent before the connection is cut (once). */
  readonly cutAfter = new Map<string, number>();
  private server: http.Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((request, response) => this.forward(request, response));
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): void {
    this.server?.closeAllConnections();
    this.server?.close();
  }

  blobGets(digest: string): LoggedRequest[] {
    return this.log.filter((entry) => entry.method === 'GET' && entry.url.endsWith(`/blobs/${digest}`));
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse): void {
    const entry: LoggedRequest = { method: request.method ?? '', url: request.url ?? '' };
    if (request.headers.range) entry.range = request.headers.range;
    if (request.headers['content-range']) entry.contentRange = String(request.headers['content-range']);
    this.log.push(entry);
    const upstream = http.request({ host: '127.0.0.1', port: registryPort, method: request.method, path: request.url, headers: request.headers }, (answer) => {
      entry.status = answer.statusCode;
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(entry.url)?.[1];
      if (entry.method !== 'GET' || !digest || (this.throttle === 0 && !this.cutAfter.has(digest))) {
        answer.pipe(response);
        return;
      }
      const cut = this.cutAfter.get(digest);
      this.cutAfter.delete(digest);
      void this.pump(answer, response, cut);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  }

  private async pump(answer: http.IncomingMessage, response: http.ServerResponse, cut: number | undefined): Promise<void> {
    let sent = 0;
    try {
      for await (const chunk of answer) {
        let data = chunk as Buffer;
        if (cut !== undefined && sent + data.length >= cut) {
          data = data.subarray(0, cut - sent);
          response.write(data);
          await sleep(50);
          response.socket?.destroy();
          answer.destroy();
          return;
        }
        response.write(data);
        sent += data.length;
        if (this.throttle > 0) await sleep((data.length / this.throttle) * 1000);
      }
      response.end();
    } catch {
      response.destroy();
    }
  }
}

const proxy = new RegistryProxy();
/** Image names go through the proxy. */
const at = (path: string) => `127.0.0.1:${proxy.port}/${path}`;


before(async () => {
  registryPort = await freePort();
  registryDir = mkdtempSync('/tmp/berth-registry-');
  writeFileSync(join(registryDir, 'config.yml'), [
    'version: 0.1',
    'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${join(registryDir, 'data')}`,
    'http:', `  addr: 127.0.0.1:${registryPort}`, '',
  ].join('\n'));
  registry = spawn('/usr/bin/docker-registry', ['serve', join(registryDir, 'config.yml')], { stdio: 'ignore' });
  await eventually(() => fetch(`http://127.0.0.1:${registryPort}/v2/`).then((response) => response.ok, () => false), 10_000, 'docker-registry');
  await proxy.start();
});

after(() => {
  proxy.close();
  registry?.kill('SIGKILL');
  rmSync(registryDir, { recursive: true, force: true });
});

// ---- images made by hand in the registry ------------------------------------------------------

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A ustar archive of regular files. */
function tarOf(files: Array<[string, Buffer]>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, data] of files) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

interface Layer { gz: Buffer; diffId: string; digest: string }

/** A layer with one file of `size` random (incompressible) bytes. */
function randomLayer(size: number): Layer {
  const tar = tarOf([[`data-${randomBytes(4).toString('hex')}`, randomBytes(size)]]);
  const gz = gzipSync(tar, { level: 1 });
  return { gz, diffId: sha256(tar), digest: sha256(gz) };
}

async function registryBlob(repository: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const started = await fetch(`http://127.0.0.1:${registryPort}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  assert.equal(started.status, 202);
  const location = new URL(started.headers.get('location')!, `http://127.0.0.1:${registryPort}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: new Uint8Array(data), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(put.status, 201, await put.text());
  return digest;
}

async function registryManifest(repository: string, reference: string, mediaType: string, body: unknown): Promise<{ digest: string; size: number }> {
  // Indented as Docker's json.MarshalIndent writes schema 2 manifests, so that a push rebuilds the same bytes.
  const bytes = Buffer.from(JSON.stringify(body, null, mediaType.includes('docker.distribution.manifest.v2') ? 3 : undefined));
  const put = await fetch(`http://127.0.0.1:${registryPort}/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'Content-Type': mediaType } });
  assert.equal(put.status, 201, await put.text());
  return { digest: sha256(bytes), size: bytes.length };
}

interface MadeImage { layers: Layer[]; configDigest: string; manifestDigest: string; manifestSize: number }

/** Uploads layers, a config and a Docker schema 2 manifest tagged `tag`. */
async function makeImage(repository: string, tag: string, layers: Layer[], architecture = hostArchitecture()): Promise<MadeImage> {
  for (const layer of layers) await registryBlob(repository, layer.gz);
  const config = Buffer.from(JSON.stringify({
    architecture, os: 'linux', created: '2024-01-01T00:00:00Z', config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'made by hand' })),
  }));
  const configDigest = await registryBlob(repository, config);
  const manifest = await registryManifest(repository, tag, 'application/vnd.docker.distribution.manifest.v2+json', {
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest },
    layers: layers.map((layer) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.gz.length, digest: layer.digest })),
  });
  return { layers, configDigest, manifestDigest: manifest.digest, manifestSize: manifest.size };
}

function hostArchitecture(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

interface Message { status?: string; id?: string; progressDetail?: { current?: number; total?: number }; progress?: string; error?: string; aux?: unknown }

function messagesOf(body: string): Message[] {
  return body.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Message);
}

const short = (digest: string) => digest.slice(7, 19);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function dataState(): { layers: string[]; blobs: string[]; ingest: string[]; layerTmp: string[] } {
  const list = (path: string) => (existsSync(path) ? readdirSync(path).sort() : []);
  return {
    layers: list(join(daemon.dataRoot, 'layers')).filter((name) => /^[0-9a-f]{64}$/.test(name)),
    blobs: list(join(daemon.dataRoot, 'content', 'blobs', 'sha256')),
    ingest: list(join(daemon.dataRoot, 'content', 'ingest')),
    layerTmp: list(join(daemon.dataRoot, 'layers', 'tmp')),
  };
}

// ---- tests -----------------------------------------------------------------------------------

let four: MadeImage;

test('pull over the API: Docker\'s progress messages and fields', async () => {
  four = await makeImage('me/four', 'latest', [randomLayer(400_000), randomLayer(300_000), randomLayer(200_000), randomLayer(100_000)]);
  proxy.throttle = 4_000_000;
  const response = await daemon.api('POST', `/images/create?fromImage=${at('me/four')}&tag=latest`);
  proxy.throttle = 0;
  assert.equal(response.status, 200, response.body);
  assert.ok(response.body.split('\n').slice(0, -1).every((line) => line.endsWith('\r')), 'messages end in CRLF, as Docker\'s do');
  const messages = messagesOf(response.body);
  assert.deepEqual(messages[0], { status: 'Pulling from me/four', id: 'latest' });
  const ids = four.layers.map((layer) => short(layer.digest));
  assert.deepEqual(messages.slice(1, 5), ids.map((id) => ({ status: 'Pulling fs layer', progressDetail: {}, id })));
  // Three downloads at a time: the fourth layer waits.
  assert.ok(messages.some((message) => message.status === 'Waiting' && message.id === ids[3]), JSON.stringify(messages));
  const order = ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'];
  four.layers.forEach((layer, index) => {
    const id = ids[index]!;
    const own = messages.filter((message) => message.id === id && message.status !== 'Waiting');
    const stages = own.map((message) => order.indexOf(message.status ?? ''));
    assert.ok(stages.every((stage, i) => stage >= 0 && (i === 0 || stage >= stages[i - 1]!)), `${id}: ${JSON.stringify(own)}`);
    for (const status of order) assert.ok(own.some((message) => message.status === status), `${id} has ${status}`);
    for (const message of own.filter((candidate) => candidate.status === 'Downloading' || candidate.status === 'Extracting')) {
      assert.equal(message.progressDetail?.total, layer.gz.length);
      assert.ok((message.progressDetail?.current ?? 0) <= layer.gz.length);
      assert.match(message.progress ?? '', /^\[=*>? *\] +[\d.]+[kM]?B\/[\d.]+[kM]?B$/);
    }
    const downloads = own.filter((message) => message.status === 'Downloading');
    assert.equal(downloads.at(-1)?.progressDetail?.current, layer.gz.length);
    for (const status of ['Pulling fs layer', 'Verifying Checksum', 'Download complete', 'Pull complete']) {
      assert.deepEqual(own.find((message) => message.status === status), { status, progressDetail: {}, id });
    }
  });
  assert.deepEqual(messages.slice(-2), [
    { status: `Digest: ${four.manifestDigest}` },
    { status: `Status: Downloaded newer image for ${at('me/four')}:latest` },
  ]);
  const inspect = (await daemon.api('GET', `/images/${at('me/four')}/json`)).json() as { Id: string };
  assert.equal(inspect.Id, four.configDigest);

  // The image is here: Docker looks at no layer.
  const again = messagesOf((await daemon.api('POST', `/images/create?fromImage=${at('me/four')}&tag=latest`)).body);
  assert.deepEqual(again, [
    { status: 'Pulling from me/four', id: 'latest' },
    { status: `Digest: ${four.manifestDigest}` },
    { status: `Status: Image is up to date for ${at('me/four')}:latest` },
  ]);
});

test('push over the API: Preparing, Pushing with progress, Pushed, the digest line and aux', async () => {
  await daemon.berthOk(['tag', 'busybox', at('me/bb:v1')]);
  const diffIds = ((await daemon.api('GET', '/images/busybox/json')).json() as { RootFS: { Layers: string[] } }).RootFS.Layers;
  const response = await daemon.api('POST', `/images/${at('me/bb')}/push?tag=v1`, undefined, { 'X-Registry-Auth': 'e30=' });
  assert.equal(response.status, 200, response.body);
  const messages = messagesOf(response.body);
  const id = short(diffIds[0]!);
  assert.deepEqual(messages[0], { status: `The push refers to repository [${at('me/bb')}]` });
  assert.deepEqual(messages[1], { status: 'Preparing', progressDetail: {}, id });
  const pushing = messages.filter((message) => message.status === 'Pushing');
  assert.ok(pushing.length > 0, JSON.stringify(messages));
  for (const message of pushing) {
    assert.equal(message.id, id);
    assert.ok((message.progressDetail?.total ?? 0) > 0);
    assert.match(message.progress ?? '', /^\[=*>? *\] /);
  }
  assert.equal(pushing.at(-1)?.progressDetail?.current, pushing.at(-1)?.progressDetail?.total);
  assert.ok(messages.some((message) => message.status === 'Pushed' && message.id === id));
  const digestLine = messages.at(-2)?.status ?? '';
  const match = /^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(digestLine);
  assert.ok(match, digestLine);
  assert.deepEqual(messages.at(-1), { progressDetail: {}, aux: { Tag: 'v1', Digest: match[1], Size: Number(match[2]) } });
  const again = messagesOf((await daemon.api('POST', `/images/${at('me/bb')}/push?tag=v1`, undefined, { 'X-Registry-Auth': 'e30=' })).body);
  assert.ok(again.some((message) => message.status === 'Layer already exists' && message.id === id), JSON.stringify(again));
});

test('push to another repository of the registry mounts the layers from where they came', async () => {
  await daemon.berthOk(['tag', at('me/four'), at('other/mounted:v2')]);
  const start = proxy.log.length;
  const pushed = await daemon.berth(['push', at('other/mounted:v2')]);
  assert.equal(pushed.code, 0, pushed.stderr + daemon.log);
  for (const layer of four.layers) assert.match(pushed.stdout, new RegExp(`${short(layer.diffId)}: Mounted from me/four\n`));
  assert.match(pushed.stdout, new RegExp(`v2: digest: ${four.manifestDigest} size: ${four.manifestSize}\n`), 'the same manifest as pulled');
  const requests = proxy.log.slice(start);
  const mounts = requests.filter((entry) => entry.method === 'POST' && entry.url.includes('mount='));
  assert.equal(mounts.length, 4);
  for (const mount of mounts) {
    assert.match(mount.url, /from=me%2Ffour/);
    assert.equal(mount.status, 201);
  }
  assert.ok(!requests.some((entry) => entry.method === 'PATCH' || (entry.method === 'PUT' && four.layers.some((layer) => entry.url.includes(encodeURIComponent(layer.digest))))));
});

test('a layer above the chunk threshold goes up in PATCHes with Content-Range, then PUT ?digest=', async () => {
  const root = mkdtempSync(join(daemon.root, 'big-'));
  const tarPath = join(root, 'big.tar');
  writeFileSync(tarPath, tarOf([['big', randomBytes(20 * 1024 * 1024)]]));
  await daemon.berthOk(['import', tarPath, at('me/big:v1')]);
  const start = proxy.log.length;
  const pushed = await daemon.berth(['push', at('me/big:v1')]);
  assert.equal(pushed.code, 0, pushed.stderr + daemon.log);
  assert.match(pushed.stdout, /: Pushed\n/);
  const requests = proxy.log.slice(start);
  const patches = requests.filter((entry) => entry.method === 'PATCH');
  assert.ok(patches.length >= 2, JSON.stringify(requests));
  assert.equal(patches[0]!.contentRange, `0-${16 * 1024 * 1024 - 1}`);
  assert.match(patches[1]!.contentRange ?? '', new RegExp(`^${16 * 1024 * 1024}-\\d+$`));
  for (const patch of patches) assert.equal(patch.status, 202);
  const commit = requests.find((entry) => entry.method === 'PUT' && entry.url.includes('digest=') && entry.url.includes(patches[0]!.url.split('?')[0]!));
  assert.equal(commit?.status, 201, JSON.stringify(requests));
  // What the registry holds is the blob berth kept.
  const manifest = await (await fetch(`http://127.0.0.1:${registryPort}/v2/me/big/manifests/v1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).json() as { layers: Array<{ digest: string }> };
  const blob = Buffer.from(await (await fetch(`http://127.0.0.1:${registryPort}/v2/me/big/blobs/${manifest.layers[0]!.digest}`)).arrayBuffer());
  assert.equal(sha256(blob), manifest.layers[0]!.digest);
  rmSync(root, { recursive: true, force: true });
});

test('pull -a pulls every tag of the repository', async () => {
  const first = await makeImage('me/tags', 'one', [randomLayer(10_000)]);
  const second = await makeImage('me/tags', 'two', [randomLayer(10_000)]);
  const pulled = await daemon.berth(['pull', '-a', at('me/tags')]);
  assert.equal(pulled.code, 0, pulled.stderr + daemon.log);
  assert.match(pulled.stdout, /one: Pulling from me\/tags\n/);
  assert.match(pulled.stdout, /two: Pulling from me\/tags\n/);
  assert.match(pulled.stdout, new RegExp(`Digest: ${first.manifestDigest}\n[^]*Digest: ${second.manifestDigest}\n`));
  assert.ok(pulled.stdout.endsWith(`Status: Downloaded newer image for ${at('me/tags')}\n${at('me/tags')}\n`), pulled.stdout);
  for (const [tag, made] of [['one', first], ['two', second]] as const) {
    assert.equal(((await daemon.api('GET', `/images/${at(`me/tags:${tag}`)}/json`)).json() as { Id: string }).Id, made.configDigest);
  }
  const again = await daemon.berth(['pull', '--all-tags', at('me/tags')]);
  assert.match(again.stdout, new RegExp(`Status: Image is up to date for ${escape(at('me/tags'))}\n`));
  // The docker CLI asks for every tag the same way (no tag parameter).
  await daemon.api('DELETE', `/images/${at('me/tags:two')}`);
  const viaDocker = await daemon.docker(['pull', '-a', at('me/tags')]);
  assert.equal(viaDocker.code, 0, viaDocker.stderr);
  assert.ok(viaDocker.stdout.endsWith(`Status: Downloaded newer image for ${at('me/tags')}\n${at('me/tags')}\n`), viaDocker.stdout);
  const quiet = await daemon.berth(['pull', '-q', '-a', at('me/tags')]);
  assert.equal(quiet.stdout, `${at('me/tags')}\n`, 'pull -q prints the reference alone');
  const tagged = await daemon.berth(['pull', '-a', at('me/tags:one')]);
  assert.equal(tagged.code, 1);
  assert.match(tagged.stderr, /tag can't be used with --all-tags\/-a/);
});

test('--platform chooses from an OCI index; Docker\'s error when none matches', async () => {
  const native = await makeImage('me/multi', 'native', [randomLayer(10_000)]);
  const other = await makeImage('me/multi', 's390x', [randomLayer(10_000)], 's390x');
  const entry = (made: MadeImage, architecture: string) => ({
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: made.manifestDigest, size: made.manifestSize,
    platform: { os: 'linux', architecture },
  });
  const index = await registryManifest('me/multi', 'latest', 'application/vnd.oci.image.index.v1+json', {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry(native, hostArchitecture()), entry(other, 's390x')],
  });
  const chosen = await daemon.berth(['pull', '--platform', 'linux/s390x', at('me/multi')]);
  assert.equal(chosen.code, 0, chosen.stderr + daemon.log);
  assert.match(chosen.stdout, new RegExp(`Digest: ${index.digest}\n`), 'the digest shown is the index\'s');
  let inspect = (await daemon.api('GET', `/images/${at('me/multi')}/json`)).json() as { Id: string; Architecture: string };
  assert.equal(inspect.Id, other.configDigest);
  assert.equal(inspect.Architecture, 's390x');
  const host = await daemon.berth(['pull', at('me/multi')]);
  assert.equal(host.code, 0, host.stderr);
  inspect = (await daemon.api('GET', `/images/${at('me/multi')}/json`)).json() as { Id: string; Architecture: string };
  assert.equal(inspect.Id, native.configDigest);
  const viaDocker = await daemon.docker(['pull', '--platform', 'linux/s390x', at('me/multi')]);
  assert.equal(viaDocker.code, 0, viaDocker.stderr);
  inspect = (await daemon.api('GET', `/images/${at('me/multi')}/json`)).json() as { Id: string; Architecture: string };
  assert.equal(inspect.Id, other.configDigest);
  const missing = await daemon.berth(['pull', '--platform', 'linux/riscv64', at('me/multi')]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, 'Using default tag: latest\nlatest: Pulling from me/multi\n');
  assert.equal(missing.stderr.trim(), 'no matching manifest for linux/riscv64 in the manifest list entries');
  const bad = await daemon.api('POST', `/images/create?fromImage=${at('me/multi')}&tag=latest&platform=bogus/x/y/z`);
  assert.equal(bad.status, 400);
  assert.equal((bad.json() as { message: string }).message, '"bogus/x/y/z": cannot parse platform specifier: invalid argument');
});

test('the docker CLI and berth show the pull in place under a terminal', async () => {
  const made = await makeImage('me/shown', 'latest', [randomLayer(300_000), randomLayer(300_000)]);
  const ids = made.layers.map((layer) => short(layer.digest));
  const env = { DOCKER_HOST: daemon.host, DOCKER_CONFIG: daemon.dockerConfig, DOCKER_CLI_HINTS: 'false' };
  for (const client of [`docker pull ${at('me/shown')}`, `${process.execPath} ${BERTH} -H ${daemon.host} pull ${at('me/shown')}`]) {
    await daemon.api('DELETE', `/images/${at('me/shown')}`);
    proxy.throttle = 3_000_000;
    const result = await runCommand('script', ['-qc', `stty cols 120 -onlcr; ${client}`, '/dev/null'], { env });
    proxy.throttle = 0;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const out = result.stdout;
    assert.ok(out.startsWith('Using default tag: latest\nlatest: Pulling from me/shown\n'), JSON.stringify(out));
    assert.ok(out.includes(`\n\x1b[1A\x1b[2K\r${ids[0]}: Pulling fs layer \r\x1b[1B\n\x1b[1A\x1b[2K\r${ids[1]}: Pulling fs layer \r\x1b[1B`), JSON.stringify(out));
    assert.match(out, new RegExp(`\x1b\\[2A\x1b\\[2K\r${ids[0]}: Downloading \\[=*>? *\\] +[\\d.]+kB/[\\d.]+kB\r\x1b\\[2B`));
    for (const [index, id] of ids.entries()) assert.ok(out.includes(`\x1b[${2 - index}A\x1b[2K\r${id}: Pull complete \r\x1b[${2 - index}B`), JSON.stringify(out));
    assert.ok(out.endsWith(`Status: Downloaded newer image for ${at('me/shown')}:latest\n${at('me/shown')}:latest\n`), JSON.stringify(out));
  }
});

test('two pulls of one image at once fetch each blob once and both finish', async () => {
  const made = await makeImage('me/shared', 'latest', [randomLayer(600_000), randomLayer(600_000), randomLayer(600_000)]);
  proxy.throttle = 2_000_000;
  const path = `/images/create?fromImage=${at('me/shared')}&tag=latest`;
  const [first, second] = await Promise.all([daemon.api('POST', path), sleep(100).then(() => daemon.api('POST', path))]);
  proxy.throttle = 0;
  for (const response of [first, second]) {
    assert.equal(response.status, 200);
    const messages = messagesOf(response.body);
    assert.ok(!messages.some((message) => message.error), response.body);
    for (const layer of made.layers) {
      assert.ok(messages.some((message) => message.id === short(layer.digest) && message.status === 'Pull complete'), response.body);
    }
    assert.equal(messages.at(-1)?.status, `Status: Downloaded newer image for ${at('me/shared')}:latest`);
  }
  // The later pull saw the shared downloads' progress.
  assert.ok(messagesOf(second.body).some((message) => message.status === 'Downloading'), second.body);
  for (const layer of made.layers) assert.equal(proxy.blobGets(layer.digest).length, 1, `blob ${layer.digest} fetched once`);
  const inspect = (await daemon.api('GET', `/images/${at('me/shared')}/json`)).json() as { Id: string };
  assert.equal(inspect.Id, made.configDigest);
});

test('a pull whose client is killed leaves nothing behind, and a retry completes', async () => {
  const made = await makeImage('me/killed', 'latest', [randomLayer(1_500_000), randomLayer(1_500_000)]);
  const baseline = dataState();
  proxy.throttle = 500_000;
  const child = spawn(process.execPath, [BERTH, '-H', daemon.host, 'pull', at('me/killed')], { env: childEnv(), stdio: 'ignore' });
  try {
    await eventually(() => made.layers.every((layer) => proxy.blobGets(layer.digest).length > 0), 10_000, 'the downloads to start');
    await sleep(300);
    child.kill('SIGKILL');
    await eventually(() => {
      const state = dataState();
      return JSON.stringify(state) === JSON.stringify(baseline);
    }, 10_000, 'the pull to clean up');
  } finally {
    proxy.throttle = 0;
    child.kill('SIGKILL');
  }
  assert.equal((await daemon.api('GET', `/images/${at('me/killed')}/json`)).status, 404);
  const retried = await daemon.berth(['pull', at('me/killed')]);
  assert.equal(retried.code, 0, retried.stderr + daemon.log);
  assert.equal(((await daemon.api('GET', `/images/${at('me/killed')}/json`)).json() as { Id: string }).Id, made.configDigest);
});

test('a download cut by the registry resumes with a Range request', async () => {
  const made = await makeImage('me/resumed', 'latest', [randomLayer(2_000_000)]);
  const digest = made.layers[0]!.digest;
  proxy.cutAfter.set(digest, 700_000);
  const response = await daemon.api('POST', `/images/create?fromImage=${at('me/resumed')}&tag=latest`);
  assert.equal(response.status, 200);
  const messages = messagesOf(response.body);
  assert.ok(!messages.some((message) => message.error), response.body);
  assert.ok(messages.some((message) => message.status === 'Retrying in 1 second' && message.id === short(digest)), response.body);
  const gets = proxy.blobGets(digest);
  assert.equal(gets.length, 2, JSON.stringify(gets));
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= 700_000, gets[1]!.range);
  assert.equal(gets[1]!.status, 206);
  assert.equal(messages.at(-1)?.status, `Status: Downloaded newer image for ${at('me/resumed')}:latest`);
  assert.equal(((await daemon.api('GET', `/images/${at('me/resumed')}/json`)).json() as { Id: string }).Id, made.configDigest);
});
