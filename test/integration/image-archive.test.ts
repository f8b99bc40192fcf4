// Image archives and housekeeping against real peers: berth save/load between two berthd's,
// archives from Debian's dockerd (20.10, started here on its own roots and stopped at the end)
// loading into berthd and berth's loading into dockerd, an OCI layout, a corrupted archive
// that stores nothing, image prune with its prompt and filters, images --digests and the
// inspect fields after a pull compared with dockerd's, with our CLI and the docker CLI.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import * as tarStream from 'tar-stream';
import { BERTH, cgroupDirs, eventually, mountsUnder, runCommand, sleep, useDaemon, type CommandResult } from './harness.js';

const source = useDaemon();
const target = useDaemon({ busybox: false });

const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const work = mkdtempSync('/tmp/berth-archive-test-');

// ---- tar helpers ----

interface Member { header: tarStream.Header; data: Buffer }

async function readTar(bytes: Buffer): Promise<Member[]> {
  const members: Member[] = [];
  const extract = tarStream.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      members.push({ header: entry.header, data: Buffer.concat(chunks) });
    }
  })();
  extract.end(bytes);
  await done;
  return members;
}

async function writeTar(members: Member[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => { for await (const chunk of pack) chunks.push(chunk as Buffer); })();
  for (const { header, data } of members) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ ...header, size: header.type === 'file' ? data.length : 0 }, header.type === 'file' ? data : Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** A root filesystem tarball with one file of `size` bytes (a layer of its own). */
function rootfsWith(name: string, size: number): string {
  const dir = join(work, `rootfs-${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), Buffer.alloc(size, 120));
  const tar = join(work, `${name}.tar`);
  execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', tar, name]);
  return tar;
}

function ok(result: CommandResult, what: string): string {
  assert.equal(result.code, 0, `${what}: ${JSON.stringify(result)}`);
  return result.stdout;
}

function layerDirs(dataRoot: string): string[] {
  return readdirSync(join(dataRoot, 'layers')).filter((name) => /^[0-9a-f]{64}$/.test(name)).sort();
}

function blobFiles(dataRoot: string): string[] {
  return readdirSync(join(dataRoot, 'content', 'blobs', 'sha256')).sort();
}

async function imageIds(daemon: typeof source): Promise<string[]> {
  return ((await daemon.api('GET', '/images/json?all=1')).json() as Array<{ Id: string }>).map((image) => image.Id).sort();
}

// ---- a dockerd of our own ----

class Dockerd {
  readonly root = mkdtempSync('/tmp/berth-archive-dockerd-');
  readonly socket = join(this.root, 'docker.sock');
  readonly cgroupParent = `archivedockerd${process.pid}`;
  readonly netns = `berth-archive-${process.pid}`;
  private child: ChildProcess | undefined;
  private readonly relays: Array<{ close(): void }> = [];
  private output = '';

  get log(): string {
    return this.output;
  }

  async start(): Promise<void> {
    writeFileSync(join(this.root, 'daemon.json'), '{}');
    // A network namespace of its own: with --bridge=none dockerd deletes any interface named
    // docker0, and the host's must stay. nsenter enters only the network namespace (ip netns
    // exec would also remount /sys, hiding the cgroup file systems from dockerd).
    execFileSync('ip', ['netns', 'add', this.netns]);
    execFileSync('ip', ['netns', 'exec', this.netns, 'ip', 'link', 'set', 'lo', 'up']);
    this.child = spawn('nsenter', [
      `--net=/run/netns/${this.netns}`, '--', 'dockerd', '--config-file', join(this.root, 'daemon.json'), '--data-root', join(this.root, 'data'), '--exec-root', join(this.root, 'exec'),
      '--pidfile', join(this.root, 'dockerd.pid'), '-H', `unix://${this.socket}`, '--cgroup-parent', this.cgroupParent,
      '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--userland-proxy=false',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.child.stderr?.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.child.on('error', (error) => { this.output += `spawn: ${error.message}\n`; });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`dockerd exited:\n${this.output.slice(-2000)}`);
      if (await this.ping()) return;
      await sleep(200);
    }
    throw new Error(`dockerd did not answer /_ping:\n${this.output.slice(-2000)}`);
  }

  private ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ socketPath: this.socket, path: '/_ping' }, (res) => { res.resume(); resolve(res.statusCode === 200); });
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  docker(args: string[], options: { input?: Buffer } = {}): Promise<CommandResult> {
    return runCommand('docker', args, { ...options, timeoutMs: 120_000, env: { DOCKER_HOST: `unix://${this.socket}`, DOCKER_CONFIG: join(this.root, 'cli'), DOCKER_CLI_HINTS: 'false' } });
  }

  async dockerOk(args: string[], options: { input?: Buffer } = {}): Promise<string> {
    return ok(await this.docker(args, options), `dockerd: docker ${args.join(' ')}\n${this.output.slice(-1500)}`);
  }

  /**
   * Makes 127.0.0.1:port inside dockerd's namespace reach 127.0.0.1:port of the host (a
   * registry the test started): a listener in the namespace relays over a unix socket to one
   * here that connects to the port.
   */
  async relayLoopbackPort(port: number): Promise<void> {
    const socket = join(this.root, `relay-${port}.sock`);
    const hostSide = createServer((client) => {
      const upstream = connect(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => hostSide.listen(socket, resolve));
    this.relays.push(hostSide);
    const script = `const net = require('node:net');
      net.createServer((client) => {
        const upstream = net.connect(${JSON.stringify(socket)});
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      }).listen(${port}, '127.0.0.1', () => process.stdout.write('ready'));`;
    const nsSide = spawn('nsenter', [`--net=/run/netns/${this.netns}`, '--', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.relays.push({ close: () => nsSide.kill('SIGKILL') });
    await new Promise<void>((resolve, reject) => {
      nsSide.stdout!.once('data', () => resolve());
      nsSide.once('exit', (code) => reject(new Error(`loopback relay exited with ${code}`)));
    });
  }

  /** Stops dockerd (it stops its containerd and shims), then removes whatever it left: processes, mounts, cgroups, files, its namespace. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.root)) process.kill(Number(pid), 'SIGKILL');
      } catch { /* gone */ }
    }
    for (const mountPoint of mountsUnder(this.root)) {
      try { execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    for (let attempt = 0; attempt < 20 && cgroupDirs(this.cgroupParent).length > 0; attempt++) {
      for (const dir of cgroupDirs(this.cgroupParent)) {
        try { execFileSync('find', [dir, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { stdio: 'ignore' }); } catch { /* busy */ }
      }
      if (cgroupDirs(this.cgroupParent).length > 0) await sleep(100);
    }
    for (const relay of this.relays.splice(0)) relay.close();
    try { execFileSync('ip', ['netns', 'delete', this.netns], { stdio: 'ignore' }); } catch { /* never made */ }
    rmSync(this.root, { recursive: true, force: true });
  }
}

let dockerd: Dockerd | undefined;
let dockerdProblem = '';

before(async () => {
  const candidate = new Dockerd();
  try {
    await candidate.start();
    dockerd = candidate;
  } catch (error) {
    dockerdProblem = (error as Error).message;
    await candidate.stop();
  }
});

after(async () => {
  await dockerd?.stop();
  rmSync(work, { recursive: true, force: true });
});

function needDockerd(t: TestContext): Dockerd | undefined {
  if (!dockerd) t.skip(`dockerd could not start on this machine: ${dockerdProblem.split('\n')[0]}`);
  return dockerd;
}

// ---- tests ----

let busyboxId = '';
let savedArchive = '';

test('berth save writes the layout of docker 25+; docker save through berthd gives the same bytes; never to a terminal', async () => {
  busyboxId = (await source.api('GET', '/images/busybox/json')).json().Id as string;
  savedArchive = join(work, 'busybox.tar');
  assert.equal(ok(await source.berth(['save', '-o', savedArchive, 'busybox']), 'berth save'), '');
  assert.equal(statSync(savedArchive).mode & 0o777, 0o600);
  const members = await readTar(readFileSync(savedArchive));
  const names = members.map((member) => member.header.name);
  const config = JSON.parse(members.find((member) => member.header.name === `blobs/sha256/${busyboxId.slice(7)}`)!.data.toString()) as { rootfs: { diff_ids: string[] } };
  const diffId = config.rootfs.diff_ids[0]!;
  assert.deepEqual(names.slice(0, 2), ['blobs/', 'blobs/sha256/']);
  assert.deepEqual(names.slice(-4), ['index.json', 'manifest.json', 'oci-layout', 'repositories']);
  const file = (name: string) => members.find((member) => member.header.name === name)!.data;
  assert.deepEqual(JSON.parse(file('manifest.json').toString()), [{
    Config: `blobs/sha256/${busyboxId.slice(7)}`, RepoTags: ['busybox:latest'], Layers: [`blobs/sha256/${diffId.slice(7)}`],
    LayerSources: { [diffId]: { mediaType: 'application/vnd.oci.image.layer.v1.tar', size: file(`blobs/sha256/${diffId.slice(7)}`).length, digest: diffId } },
  }]);
  assert.equal(sha256(file(`blobs/sha256/${diffId.slice(7)}`)), diffId, 'the layer is the tar its diff ID names');
  assert.equal(sha256(file(`blobs/sha256/${busyboxId.slice(7)}`)), busyboxId, 'the config is kept byte for byte');
  assert.equal(file('oci-layout').toString(), '{"imageLayoutVersion": "1.0.0"}');
  assert.equal(file('repositories').toString(), `{"busybox":{"latest":"${diffId.slice(7)}"}}\n`);
  const index = JSON.parse(file('index.json').toString()) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
  assert.deepEqual(index.manifests[0]!.annotations, { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' });
  for (const member of members.filter((entry) => entry.header.name.startsWith('blobs/sha256/') && entry.header.type === 'file')) {
    assert.equal(sha256(member.data), `sha256:${member.header.name.slice('blobs/sha256/'.length)}`, `${member.header.name} is named by its digest`);
  }

  // The docker CLI gets the same bytes; so does berth writing to a pipe.
  const viaDocker = join(work, 'via-docker.tar');
  ok(await source.docker(['save', '-o', viaDocker, 'busybox']), 'docker save');
  assert.equal(sha256(readFileSync(viaDocker)), sha256(readFileSync(savedArchive)));
  const toStdout = await runCommand('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(BERTH)} -H ${source.host} save busybox | sha256sum`]);
  assert.equal(toStdout.stdout.split(' ')[0], sha256(readFileSync(savedArchive)).slice(7));

  const missing = await source.berth(['save', 'nosuch:tag']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: reference does not exist\n');
  assert.equal((await source.docker(['save', 'nosuch'])).stderr, 'Error response from daemon: No such image: nosuch\n');
  const toDirectory = await source.berth(['save', '-o', work, 'busybox']);
  assert.deepEqual([toDirectory.code, toDirectory.stderr], [1, 'failed to save image: cannot write to a directory\n']);
  const terminal = await runCommand('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(BERTH)} -H ${source.host} save busybox`, '/dev/null']);
  assert.notEqual(terminal.code, 0);
  assert.match(terminal.stdout, /cowardly refusing to save to a terminal\. Use the -o flag or redirect/);
});

test('save and load between two berthd: same image ID, it runs, load and tag events; docker load too', async () => {
  const since = String(Date.now() / 1000);
  // Not quiet: "Loading layer" progress as dockerd sends it, then the result; CRLF after each message.
  const first = await target.api('POST', '/images/load?quiet=0', readFileSync(savedArchive), { 'Content-Type': 'application/x-tar' });
  assert.equal(first.status, 200);
  const messages = first.body.split('\r\n').filter(Boolean).map((line) => JSON.parse(line) as { status?: string; id?: string; progress?: string; progressDetail?: { current: number; total: number }; stream?: string });
  const diffId = ((await source.api('GET', '/images/busybox/json')).json() as { RootFS: { Layers: string[] } }).RootFS.Layers[0]!;
  const progress = messages.filter((message) => message.status === 'Loading layer');
  assert.ok(progress.length > 0, first.body);
  for (const message of progress) assert.equal(message.id, diffId.slice(7, 19));
  assert.deepEqual(progress.at(-1)!.progressDetail, { current: progress.at(-1)!.progressDetail!.total, total: progress.at(-1)!.progressDetail!.total });
  assert.match(progress.at(-1)!.progress!, /^\[={50}>\] +\d/);
  assert.deepEqual(messages.at(-1), { stream: 'Loaded image: busybox:latest\n' });
  const loaded = await target.berth(['load', '-i', savedArchive]);
  assert.equal(ok(loaded, 'berth load'), 'Loaded image: busybox:latest\n');
  const inspect = (await target.api('GET', '/images/busybox/json')).json() as { Id: string; RepoTags: string[]; Size: number };
  assert.equal(inspect.Id, busyboxId);
  assert.deepEqual(inspect.RepoTags, ['busybox:latest']);
  assert.equal(inspect.Size, (await source.api('GET', '/images/busybox/json')).json().Size);
  assert.equal(ok(await target.berth(['run', '--rm', 'busybox', 'echo', 'loaded']), 'run'), 'loaded\n');
  const events = await target.api('GET', `/events?since=${since}&until=${Date.now() / 1000}&filters=${encodeURIComponent('{"type":["image"]}')}`);
  const actions = events.body.trim().split('\n').map((line) => JSON.parse(line) as { Action: string; Actor: { ID: string } });
  assert.ok(actions.some((event) => event.Action === 'load' && event.Actor.ID === busyboxId), events.body);
  assert.ok(actions.some((event) => event.Action === 'tag'), events.body);

  // The docker CLI, piped (so quiet); layers already there are not loaded again.
  const viaDocker = await target.docker(['load'], { input: readFileSync(savedArchive) });
  assert.equal(ok(viaDocker, 'docker load'), 'Loaded image: busybox:latest\n');
  const again = await target.api('POST', '/images/load?quiet=0', readFileSync(savedArchive), { 'Content-Type': 'application/x-tar' });
  assert.equal(again.body, '{"stream":"Loaded image: busybox:latest\\n"}\r\n');
});

test('a docker-archive saved by dockerd 20.10 loads into berthd and runs, IDs and sizes as dockerd has them', async (t) => {
  const peer = needDockerd(t);
  if (!peer) return;
  await peer.dockerOk(['import', '-c', 'CMD ["sh"]', source.busyboxRootfs(), 'busybox:latest']);
  await peer.dockerOk(['run', '--name', 'maker', '--network', 'none', 'busybox', 'sh', '-c', 'echo second > /hello; rm /bin/ls']);
  await peer.dockerOk(['commit', '-c', 'LABEL stage=two', 'maker', 'child:v1']);
  await peer.dockerOk(['rm', 'maker']);
  const archive = join(work, 'from-dockerd.tar');
  await peer.dockerOk(['save', '-o', archive, 'busybox', 'child:v1']);
  const members = await readTar(readFileSync(archive));
  assert.ok(members.some((member) => member.header.type === 'symlink' && member.header.name.endsWith('/layer.tar')), 'dockerd 20.10 links a layer two images share');

  const output = ok(await target.berth(['load', '-i', archive]), 'berth load');
  // The images come in manifest.json's order, which dockerd takes from a map: either may be first.
  assert.match(output, /(^|\n)The image busybox:latest already exists, renaming the old one with ID sha256:[0-9a-f]{64} to empty string\nLoaded image: busybox:latest\n/);
  assert.match(output, /(^|\n)Loaded image: child:v1\n/);
  assert.equal(output.split('\n').filter(Boolean).length, 3, output);
  for (const name of ['busybox:latest', 'child:v1']) {
    const theirs = JSON.parse(await peer.dockerOk(['image', 'inspect', name]))[0] as { Id: string; Size: number; RootFS: { Layers: string[] }; Config: { Labels: Record<string, string> | null } };
    const ours = (await target.api('GET', `/images/${name}/json`)).json() as typeof theirs;
    assert.equal(ours.Id, theirs.Id, `${name}: same ID`);
    assert.equal(ours.Size, theirs.Size, `${name}: same size as dockerd reports`);
    assert.deepEqual(ours.RootFS.Layers, theirs.RootFS.Layers);
  }
  const run = await target.berth(['run', '--rm', 'child:v1', 'sh', '-c', 'cat /hello; test -e /bin/ls || echo ls-gone']);
  assert.equal(ok(run, 'run child'), 'second\nls-gone\n');
  // Sizes agree for the same import on both engines, too.
  const importedHere = (await source.api('GET', '/images/busybox/json')).json() as { Size: number };
  assert.equal(importedHere.Size, (JSON.parse(await peer.dockerOk(['image', 'inspect', 'busybox']))[0] as { Size: number }).Size);
});

test('an archive saved by berthd loads into dockerd 20.10 and runs there with the same ID', async (t) => {
  const peer = needDockerd(t);
  if (!peer) return;
  const extra = ok(await source.berth(['import', '-c', 'CMD ["cat", "/extra"]', rootfsWith('extra', 1500), 'extra:v1']), 'import').trim();
  const archive = join(work, 'for-dockerd.tar');
  ok(await source.berth(['save', '-o', archive, 'busybox', 'extra:v1']), 'berth save');
  const loaded = await peer.dockerOk(['load', '-i', archive]);
  assert.match(loaded, /Loaded image: busybox:latest\n/);
  assert.match(loaded, /Loaded image: extra:v1\n/);
  assert.equal(JSON.parse(await peer.dockerOk(['image', 'inspect', 'busybox']))[0].Id, busyboxId);
  assert.equal(JSON.parse(await peer.dockerOk(['image', 'inspect', 'extra:v1']))[0].Id, extra);
  assert.equal(await peer.dockerOk(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'from-berth']), 'from-berth\n');
  assert.equal(JSON.parse(await peer.dockerOk(['image', 'inspect', 'extra:v1']))[0].Size, 1500);
  ok(await source.berth(['rmi', 'extra:v1']), 'rmi');
});

test('an OCI image layout (index.json, no manifest.json) loads, named from its annotations, its blobs checked', async () => {
  rootfsWith('ocidata', 777);
  // busybox with one more file: a layer the target does not have, and something to run.
  const rootfs = join(work, 'busybox-plus.tar');
  writeFileSync(rootfs, readFileSync(source.busyboxRootfs()));
  execFileSync('tar', ['--numeric-owner', '-rf', rootfs, '-C', join(work, 'rootfs-ocidata'), 'ocidata'], { stdio: 'ignore' });
  const id = ok(await source.berth(['import', '-c', 'CMD ["sh"]', rootfs, 'oci/app:v1']), 'import').trim();
  const saved = join(work, 'oci-source.tar');
  ok(await source.berth(['save', '-o', saved, 'oci/app:v1']), 'save');
  const members = (await readTar(readFileSync(saved))).filter((member) => !['manifest.json', 'repositories'].includes(member.header.name));
  const oci = join(work, 'oci.tar');
  writeFileSync(oci, await writeTar(members));
  assert.equal(ok(await target.berth(['load', '-i', oci]), 'load oci'), 'Loaded image: oci/app:v1\n');
  assert.equal((await target.api('GET', '/images/oci/app:v1/json')).json().Id, id);
  assert.equal(ok(await target.berth(['run', '--rm', 'oci/app:v1', 'wc', '-c', '/ocidata']), 'run').trim(), '777 /ocidata');
  ok(await source.berth(['rmi', 'oci/app:v1']), 'rmi');
});

test('a corrupted archive stores nothing: no image, no layer, no blob, no temp files', async () => {
  const good = ok(await source.berth(['import', rootfsWith('good', 2048), 'good:v1']), 'import').trim();
  ok(await source.berth(['import', rootfsWith('bad', 1024), 'bad:v1']), 'import');
  const saved = join(work, 'good-bad.tar');
  ok(await source.berth(['save', '-o', saved, 'good:v1', 'bad:v1']), 'save');
  ok(await source.berth(['rmi', 'good:v1', 'bad:v1']), 'rmi');
  const archive = await readTar(readFileSync(saved));
  // bad's layer is replaced by another valid tar: its diff ID no longer matches the config.
  const badLayer = (JSON.parse(archive.find((member) => member.header.name === 'manifest.json')!.data.toString()) as Array<{ Layers: string[] }>)[1]!.Layers[0]!;
  const wrong = readFileSync(rootfsWith('wrong', 100));
  const corrupted = await writeTar(archive.map((member) => (member.header.name === badLayer ? { ...member, data: wrong } : member)));

  const before = { images: await imageIds(target), layers: layerDirs(target.dataRoot), blobs: blobFiles(target.dataRoot) };
  const result = await target.berth(['load'], { input: corrupted });
  assert.equal(result.code, 1, JSON.stringify(result));
  assert.equal(result.stderr, `invalid diffID for layer 0: expected "${badLayer.replace('blobs/sha256/', 'sha256:')}", got "${sha256(wrong)}"\n`);
  const viaDocker = await target.docker(['load'], { input: corrupted });
  assert.equal(viaDocker.code, 1);
  assert.match(viaDocker.stderr, /invalid diffID for layer 0/);
  const garbage = await target.berth(['load'], { input: Buffer.from('not an archive\n'.repeat(100)) });
  assert.equal(garbage.code, 1);
  assert.match(garbage.stderr, /invalid archive/);
  assert.deepEqual(await imageIds(target), before.images);
  assert.ok(!before.images.includes(good), 'the good image of the archive is not stored either');
  assert.deepEqual(layerDirs(target.dataRoot), before.layers);
  assert.deepEqual(blobFiles(target.dataRoot), before.blobs);
  assert.deepEqual(readdirSync(join(target.dataRoot, 'tmp')), []);
  assert.deepEqual(readdirSync(join(target.dataRoot, 'layers', 'tmp')), []);
  // The archive as saved loads.
  assert.equal(ok(await target.berth(['load', '-i', saved]), 'load'), 'Loaded image: good:v1\nLoaded image: bad:v1\n');
  ok(await target.berth(['rmi', 'good:v1', 'bad:v1']), 'rmi');
});

test('image prune: EOF at the prompt is no; dangling, --filter label/until, docker image prune -f, -a keeps what containers use and shared layers', async () => {
  const importUntagged = async (name: string, size: number, change?: string) => {
    const args = ['import', ...(change ? ['-c', change] : []), rootfsWith(name, size)];
    return ok(await source.berth(args), 'import').trim();
  };
  const layerOf = async (id: string) => ((await source.api('GET', `/images/${id}/json`)).json() as { RootFS: { Layers: string[] } }).RootFS.Layers[0]!;
  const labelled = await importUntagged('one', 1000, 'LABEL tier=test');
  const plain = await importUntagged('two', 2000);
  const kept = ok(await source.berth(['import', rootfsWith('three', 3000), 'keep:v1']), 'import').trim();
  const used = await importUntagged('four', 4000);
  const sameLayer = ok(await source.berth(['import', '-m', 'another config, the same layer', source.busyboxRootfs(), 'bb2:latest']), 'import').trim();
  ok(await source.berth(['create', '--name', 'uses-four', used, 'true']), 'create');
  ok(await source.berth(['create', '--name', 'uses-busybox', 'busybox', 'true']), 'create');
  const all = await imageIds(source);

  const asked = await source.berth(['image', 'prune']);
  assert.equal(asked.code, 0);
  assert.equal(asked.stdout, 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ');
  const declined = await source.berth(['image', 'prune', '-a'], { input: 'n\n' });
  assert.equal(declined.stdout, 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ');
  assert.deepEqual(await imageIds(source), all);

  const labelledLayer = await layerOf(labelled);
  const byLabel = ok(await source.berth(['image', 'prune', '-f', '--filter', 'label=tier=test']), 'prune label');
  assert.equal(byLabel, `Deleted Images:\ndeleted: ${labelled}\ndeleted: ${labelledLayer}\n\nTotal reclaimed space: 1kB\n`);
  const newer = ok(await source.berth(['image', 'prune', '-f', '--filter', 'until=1h']), 'prune until');
  assert.equal(newer, 'Total reclaimed space: 0B\n', 'images created after until stay');

  const labelledKeep = await importUntagged('five', 500, 'LABEL tier=keep');
  const plainLayer = await layerOf(plain);
  const viaDocker = await source.docker(['image', 'prune', '-f', '--filter', 'label!=tier']);
  assert.equal(ok(viaDocker, 'docker image prune'), `Deleted Images:\ndeleted: ${plain}\ndeleted: ${plainLayer}\n\nTotal reclaimed space: 2kB\n`);
  const fiveLayer = await layerOf(labelledKeep);
  const older = ok(await source.berth(['image', 'prune', '-f', '--filter', `until=${new Date(Date.now() + 60_000).toISOString()}`]), 'prune until');
  assert.equal(older, `Deleted Images:\ndeleted: ${labelledKeep}\ndeleted: ${fiveLayer}\n\nTotal reclaimed space: 500B\n`);
  assert.ok((await imageIds(source)).includes(used), 'a dangling image a container uses stays');

  const since = String(Date.now() / 1000);
  const everything = ok(await source.berth(['image', 'prune', '-a', '-f']), 'prune -a');
  const lines = everything.split('\n');
  assert.equal(lines[0], 'Deleted Images:');
  for (const line of ['untagged: keep:v1', `deleted: ${kept}`, 'untagged: bb2:latest', `deleted: ${sameLayer}`]) assert.ok(lines.includes(line), `${line} in\n${everything}`);
  assert.ok(!everything.includes(busyboxId) && !everything.includes(used), everything);
  assert.match(everything, /\n\nTotal reclaimed space: 3kB\n$/, 'only keep:v1 had a layer of its own');
  const left = await imageIds(source);
  assert.ok(left.includes(busyboxId) && left.includes(used) && !left.includes(kept) && !left.includes(sameLayer), JSON.stringify(left));
  assert.equal(ok(await source.berth(['run', '--rm', 'busybox', 'echo', 'still-here']), 'run'), 'still-here\n', 'the shared layer stayed');
  const events = await source.api('GET', `/events?since=${since}&until=${Date.now() / 1000}&filters=${encodeURIComponent('{"type":["image"]}')}`);
  const actions = events.body.trim().split('\n').map((line) => JSON.parse(line) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
  assert.ok(actions.some((event) => event.Action === 'untag' && event.Actor.ID === kept), events.body);
  assert.ok(actions.some((event) => event.Action === 'delete' && event.Actor.ID === kept), events.body);
  assert.ok(actions.some((event) => event.Action === 'prune' && event.Actor.Attributes.reclaimed === '3000'), events.body);

  const bad = await source.api('POST', `/images/prune?filters=${encodeURIComponent('{"foo":["bar"]}')}`);
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json(), { message: "invalid filter 'foo'" });
  ok(await source.berth(['rm', 'uses-four', 'uses-busybox']), 'rm');
});

test('images --digests and RepoTags/RepoDigests/Size after a pull are what dockerd shows for the same image', async (t) => {
  const peer = needDockerd(t);
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const registryDir = join(work, 'registry');
  mkdirSync(registryDir);
  writeFileSync(join(registryDir, 'config.yml'), ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:',
    `    rootdirectory: ${join(registryDir, 'data')}`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'));
  const registry = spawn('/usr/bin/docker-registry', ['serve', join(registryDir, 'config.yml')], { stdio: 'ignore' });
  t.after(() => { registry.kill('SIGKILL'); });
  await eventually(() => fetch(`http://127.0.0.1:${port}/v2/`).then((response) => response.ok, () => false), 10_000, 'docker-registry');

  const repo = `127.0.0.1:${port}/archive/busybox`;
  ok(await source.berth(['tag', 'busybox', `${repo}:v1`]), 'tag');
  ok(await source.berth(['push', `${repo}:v1`]), 'push');
  ok(await target.berth(['pull', `${repo}:v1`]), 'pull');
  const ours = (await target.api('GET', `/images/${repo}:v1/json`)).json() as { Id: string; RepoTags: string[]; RepoDigests: string[]; Size: number };
  assert.equal(ours.Id, busyboxId);
  assert.ok(ours.RepoTags.includes(`${repo}:v1`), JSON.stringify(ours.RepoTags));
  assert.equal(ours.RepoDigests.length, 1);
  assert.match(ours.RepoDigests[0]!, new RegExp(`^${repo.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));

  // Rows split on the table's column gaps, without CREATED (it says how long ago, read at another moment).
  const columns = (table: string) => table.trimEnd().split('\n').map((line) => line.split(/ {2,}/).filter((_, index) => index !== 4));
  const berthTable = ok(await target.berth(['images', '--digests', repo]), 'berth images --digests');
  const dockerTable = ok(await target.docker(['images', '--digests', repo]), 'docker images --digests');
  assert.deepEqual(columns(berthTable), columns(dockerTable));
  assert.deepEqual(berthTable.split('\n')[0]!.split(/ {2,}/), ['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE']);
  assert.deepEqual(columns(berthTable)[1], [repo, 'v1', ours.RepoDigests[0]!.split('@')[1], busyboxId.slice(7, 19), '1.99MB']);

  if (!peer) return;
  await peer.relayLoopbackPort(port);
  await peer.dockerOk(['pull', `${repo}:v1`]);
  const theirs = JSON.parse(await peer.dockerOk(['image', 'inspect', `${repo}:v1`]))[0] as typeof ours;
  assert.equal(ours.Id, theirs.Id);
  assert.deepEqual(ours.RepoTags.filter((tag) => tag.startsWith(repo)), theirs.RepoTags.filter((tag) => tag.startsWith(repo)));
  assert.deepEqual(ours.RepoDigests, theirs.RepoDigests);
  assert.equal(ours.Size, theirs.Size);
  const theirTable = await peer.dockerOk(['images', '--digests', repo]);
  assert.deepEqual(columns(theirTable), columns(dockerTable));
});
