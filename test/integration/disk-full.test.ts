// A full data root: berthd's data root is a 24 MB tmpfs mounted here (and unmounted at the
// end, also after a failure). Importing or loading more than fits answers Docker's
// "no space left on device", leaves nothing behind (no layer directory, no half layer in
// layers/tmp, no ingest file, no blob, no image record, no unpacked archive) and berthd goes
// on: once there is room, the same import and load succeed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tarStream from 'tar-stream';
import { TestDaemon, dataRootState } from './harness.js';

const MB = 1024 * 1024;
const daemon = new TestDaemon();
const work = join(daemon.root, 'work');

function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === path);
}

before(async () => {
  mkdirSync(daemon.dataRoot, { recursive: true });
  mkdirSync(work);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0711', 'berth-disk-full', daemon.dataRoot]);
  await daemon.start();
  await daemon.importBusybox();
});

after(async () => {
  await daemon.stop().catch(() => undefined);
  if (isMounted(daemon.dataRoot)) {
    try { execFileSync('umount', [daemon.dataRoot]); } catch { execFileSync('umount', ['-l', daemon.dataRoot]); }
  }
  await daemon.cleanup();
});

async function tarOf(entries: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => { for await (const chunk of pack) chunks.push(chunk as Buffer); })();
  for (const { name, data } of entries) {
    await new Promise<void>((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644, uid: 0, gid: 0 }, data, (error) => (error ? reject(error) : resolve())));
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** A root filesystem tarball holding one file of incompressible bytes. */
async function rootfsTar(name: string, bytes: number): Promise<Buffer> {
  return tarOf([{ name, data: randomBytes(bytes) }]);
}

/** A docker-archive (manifest.json) of one image, tagged `tag`, whose one layer is `layer`. */
async function dockerArchive(tag: string, layer: Buffer): Promise<Buffer> {
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: new Date().toISOString(), config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
  }));
  const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['layer/layer.tar'] }]);
  return tarOf([{ name: 'config.json', data: config }, { name: 'layer/layer.tar', data: layer }, { name: 'manifest.json', data: Buffer.from(manifest) }]);
}



async function imageTags(): Promise<string[]> {
  const images = (await daemon.api('GET', '/images/json')).json() as Array<{ RepoTags: string[] }>;
  return images.flatMap((image) => image.RepoTags).sort();
}

test('an import larger than the data root fails with "no space left on device" and stores nothing', async () => {
  const tarball = join(work, 'big-import.tar');
  writeFileSync(tarball, await rootfsTar('big.bin', 40 * MB));
  const before = dataRootState(daemon.dataRoot);
  const result = await daemon.berth(['import', tarball, 'big:import']);
  assert.notEqual(result.code, 0, JSON.stringify(result));
  assert.match(result.stderr, /no space left on device/, result.stderr);
  assert.deepEqual(dataRootState(daemon.dataRoot), before);
  assert.deepEqual(await imageTags(), ['busybox:latest']);

  // The docker CLI sees the same answer.
  const viaDocker = await daemon.docker(['import', tarball, 'big:import']);
  assert.notEqual(viaDocker.code, 0);
  assert.match(viaDocker.stderr, /no space left on device/, viaDocker.stderr);
  assert.deepEqual(dataRootState(daemon.dataRoot), before);
});

test('a load whose archive does not fit, and one whose layer does not fit, fail with "no space left on device" and store nothing', async () => {
  const before = dataRootState(daemon.dataRoot);
  // 40 MB cannot even be unpacked into <data-root>/tmp.
  const hugeArchive = join(work, 'huge-load.tar');
  writeFileSync(hugeArchive, await dockerArchive('big:huge', await rootfsTar('big.bin', 40 * MB)));
  const huge = await daemon.docker(['load', '-i', hugeArchive]);
  assert.notEqual(huge.code, 0, JSON.stringify(huge));
  assert.match(huge.stderr, /no space left on device/, huge.stderr);
  assert.deepEqual(dataRootState(daemon.dataRoot), before);

  // 13 MB unpacks, but its layer (13 MB more, and its kept blob) does not fit beside it.
  const bigArchive = join(work, 'big-load.tar');
  writeFileSync(bigArchive, await dockerArchive('big:load', await rootfsTar('big.bin', 13 * MB)));
  const big = await daemon.docker(['load', '-i', bigArchive]);
  assert.notEqual(big.code, 0, JSON.stringify(big));
  assert.match(big.stderr, /no space left on device/, big.stderr);
  assert.deepEqual(dataRootState(daemon.dataRoot), before);
  assert.deepEqual(await imageTags(), ['busybox:latest']);
});

test('berthd goes on: small imports and loads work on the full-sized root, and the big ones once there is room', async () => {
  assert.equal((await daemon.api('GET', '/_ping')).body, 'OK');
  const smallTar = join(work, 'small.tar');
  writeFileSync(smallTar, await rootfsTar('small.bin', 1 * MB));
  await daemon.berthOk(['import', smallTar, 'small:import']);
  const smallArchive = join(work, 'small-load.tar');
  writeFileSync(smallArchive, await dockerArchive('small:load', await rootfsTar('small.bin', 1 * MB)));
  assert.match(await daemon.dockerOk(['load', '-i', smallArchive]), /Loaded image: small:load/);
  assert.equal((await daemon.berthOk(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'still here'])).trim(), 'still here');

  // Room, as if a disk were freed: the same big import and load now succeed.
  execFileSync('mount', ['-o', 'remount,size=160m', daemon.dataRoot]);
  await daemon.berthOk(['import', join(work, 'big-import.tar'), 'big:import']);
  assert.match(await daemon.dockerOk(['load', '-i', join(work, 'big-load.tar')]), /Loaded image: big:load/);
  assert.deepEqual(await imageTags(), ['big:import', 'big:load', 'busybox:latest', 'small:import', 'small:load']);
});
