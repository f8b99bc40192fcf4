// The copy-up of a new volume in detail (native/copy-tree.c, or cp -a without it): what an image
// holds at a VOLUME path arrives in the volume with its xattrs, device nodes, fifos, hard links,
// nanosecond times, setgid directories and unfollowed symlinks, as Docker's copy-up keeps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, sleep, useDaemon } from './harness.js';

const daemon = useDaemon();

/** An image from busybox plus `data/` of `staging`, appended as a POSIX tar (xattrs, ns times). */
async function importWithData(name: string, staging: string, volume = '/data'): Promise<void> {
  const tarball = join(daemon.root, `${name}.tar`);
  copyFileSync(daemon.busyboxRootfs(), tarball);
  const extra = join(daemon.root, `${name}-data.tar`);
  execFileSync('tar', ['--format=posix', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-cf', extra, '-C', staging, 'data']);
  execFileSync('tar', ['-Af', tarball, extra]);
  await daemon.berthOk(['import', '-c', `VOLUME ${volume}`, tarball, name]);
}

const volumeSource = async (container: string, destination = '/data'): Promise<string> =>
  (await daemon.berthOk(['inspect', '-f', `{{range .Mounts}}{{if eq .Destination "${destination}"}}{{.Source}}{{end}}{{end}}`, container])).trim();

const xattrs = (path: string): string =>
  execFileSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', path], { encoding: 'utf8' }).split('\n').slice(1).join('\n').trim();

test('copy-up keeps xattrs, device nodes, fifos, hard links, times, setgid directories and symlinks', async () => {
  const staging = join(daemon.root, 'special');
  const data = join(staging, 'data');
  mkdirSync(join(data, 'group', 'sub'), { recursive: true });
  writeFileSync(join(data, 'file'), 'content\n');
  execFileSync('ln', [join(data, 'file'), join(data, 'group', 'hardlink')]);
  execFileSync('ln', ['-s', '/etc/passwd', join(data, 'abs')]);
  execFileSync('ln', ['-s', '../file', join(data, 'group', 'rel')]);
  execFileSync('mkfifo', [join(data, 'fifo')]);
  execFileSync('mknod', [join(data, 'null'), 'c', '1', '3']);
  execFileSync('setfattr', ['-n', 'user.origin', '-v', 'image', join(data, 'file')]);
  execFileSync('setfattr', ['-n', 'user.dir', '-v', 'yes', join(data, 'group')]);
  writeFileSync(join(data, 'big'), Buffer.alloc(300_000, 7));
  execFileSync('chown', ['-R', '1234:5678', join(data, 'group')]);
  execFileSync('chmod', ['2775', join(data, 'group')]);
  execFileSync('chmod', ['4755', join(data, 'big')]);
  execFileSync('chown', ['42:43', join(data, 'fifo')]);
  execFileSync('touch', ['-h', '-d', '2001-02-03 04:05:06.123456789', join(data, 'file'), join(data, 'group', 'rel'), join(data, 'group')]);
  execFileSync('chmod', ['0750', data]);
  execFileSync('chown', ['7:8', data]);
  await importWithData('special:1', staging);
  // A data container that never starts: the copy-up is done at create.
  await daemon.berthOk(['create', '--name', 'special', 'special:1', 'true']);
  const volume = await volumeSource('special');
  const imageStat = (path: string) => lstatSync(join(data, path), { bigint: true });
  const copyStat = (path: string) => lstatSync(join(volume, path), { bigint: true });
  for (const path of ['', 'file', 'big', 'abs', 'fifo', 'null', 'group', 'group/sub', 'group/hardlink', 'group/rel']) {
    const [from, to] = [imageStat(path), copyStat(path)];
    assert.equal(to.mode, from.mode, `mode of /data/${path}`);
    assert.equal(`${to.uid}:${to.gid}`, `${from.uid}:${from.gid}`, `owner of /data/${path}`);
    assert.equal(to.rdev, from.rdev, `device of /data/${path}`);
    if (!from.isDirectory()) assert.equal(to.size, from.size, `size of /data/${path}`);
    assert.equal(to.mtimeNs, from.mtimeNs, `mtime of /data/${path}`);
  }
  assert.equal(copyStat('file').mtimeNs, 981173106123456789n, 'nanoseconds kept');
  assert.ok(copyStat('fifo').isFIFO());
  assert.ok(copyStat('null').isCharacterDevice());
  assert.equal(copyStat('group/hardlink').ino, copyStat('file').ino, 'hard links stay one inode');
  assert.equal(copyStat('file').nlink, 2n);
  assert.equal(readlinkSync(join(volume, 'abs')), '/etc/passwd', 'a symlink out of the root is copied, never followed');
  assert.equal(readlinkSync(join(volume, 'group', 'rel')), '../file');
  assert.equal(xattrs(join(volume, 'file')), 'user.origin="image"');
  assert.equal(xattrs(join(volume, 'group')), 'user.dir="yes"');
  assert.equal(readFileSync(join(volume, 'big')).equals(Buffer.alloc(300_000, 7)), true);
  assert.equal(copyStat('group/sub').gid, 5678n, 'made in a setgid directory: its group, as in the image');
  await daemon.berthOk(['rm', '-v', 'special']);
});

const seedsDir = () => join(daemon.dataRoot, 'volumes', '.seeds');
const seedsOf = (imageId: string) => readdirSync(seedsDir()).filter((name) => name.startsWith(`${imageId.replace(/^sha256:/, '')}-`));

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The one seed of the image, once it is there: its directory's inode. */
async function seedInode(imageId: string): Promise<bigint> {
  await waitFor(`the seed of ${imageId}`, () => seedsOf(imageId).length === 1);
  return lstatSync(join(seedsDir(), seedsOf(imageId)[0]!), { bigint: true }).ino;
}

async function importSeedImage(name: string): Promise<string> {
  const staging = join(daemon.root, name.replace(/:.*/, ''));
  mkdirSync(join(staging, 'data', 'sub'), { recursive: true });
  writeFileSync(join(staging, 'data', 'a'), 'seeded\n');
  writeFileSync(join(staging, 'data', 'sub', 'b'), 'b\n');
  execFileSync('chown', ['-R', '1234:5678', join(staging, 'data')]);
  execFileSync('chmod', ['0640', join(staging, 'data', 'a')]);
  await importWithData(name, staging);
  return (await daemon.berthOk(['inspect', '-f', '{{.Id}}', name])).trim();
}

test('a seed is made after the second copy-up, taken by the next new volume, never by one that holds data, and removed with the image', async () => {
  const imageId = await importSeedImage('seedy:1');
  assert.deepEqual(seedsOf(imageId), [], 'no seed before a copy-up');
  assert.equal(await daemon.berthOk(['run', '--rm', 'seedy:1', 'cat', '/data/a']), 'seeded\n');
  await sleep(1000);
  assert.deepEqual(seedsOf(imageId), [], 'an image run once (a build step) gets no seed');
  assert.equal(await daemon.berthOk(['run', '--rm', 'seedy:1', 'cat', '/data/a']), 'seeded\n');
  const first = await seedInode(imageId);

  // A new anonymous volume takes it by rename: no mount of the root for a copy.
  await daemon.berthOk(['create', '--name', 'seed2', 'seedy:1', 'true']);
  const id = (await daemon.berthOk(['inspect', '-f', '{{.Id}}', 'seed2'])).trim();
  assert.deepEqual(mountsUnder(join(daemon.dataRoot, 'containers', id)), [], 'no copy-up mount');
  const volume = await volumeSource('seed2');
  const taken = lstatSync(volume, { bigint: true });
  assert.equal(taken.ino, first, 'the seed became the volume');
  assert.equal(`${taken.uid}:${taken.gid} ${(taken.mode & 0o7777n).toString(8)}`, '1234:5678 755');
  const file = lstatSync(join(volume, 'a'));
  assert.equal(`${file.uid}:${file.gid} ${(file.mode & 0o7777).toString(8)}`, '1234:5678 640');
  assert.equal(readFileSync(join(volume, 'sub', 'b'), 'utf8'), 'b\n');
  assert.equal(await daemon.berthOk(['start', '-a', 'seed2']), '');
  const second = await seedInode(imageId);
  assert.notEqual(second, first, 'a new seed for the next one');

  // A volume that holds data keeps it, and the seed stays.
  await daemon.berthOk(['volume', 'create', 'full']);
  writeFileSync(join(daemon.dataRoot, 'volumes', 'full', '_data', 'mine'), 'mine\n');
  assert.equal(await daemon.berthOk(['run', '--rm', '-v', 'full:/data', 'seedy:1', 'ls', '/data']), 'mine\n');
  // An existing empty volume is copied into, not replaced (a container may have it mounted).
  await daemon.berthOk(['volume', 'create', 'empty']);
  assert.equal(await daemon.berthOk(['run', '--rm', '-v', 'empty:/data', 'seedy:1', 'cat', '/data/a']), 'seeded\n');
  assert.equal(await seedInode(imageId), second, 'neither took the seed');
  // A new named volume takes it.
  await daemon.berthOk(['create', '--name', 'seed3', '-v', 'newvol:/data', 'seedy:1', 'true']);
  assert.equal(lstatSync(join(daemon.dataRoot, 'volumes', 'newvol', '_data'), { bigint: true }).ino, second);
  assert.equal(readFileSync(join(daemon.dataRoot, 'volumes', 'newvol', '_data', 'a'), 'utf8'), 'seeded\n');
  await seedInode(imageId);

  // Creates back to back: the second finds the seed being made, and waits for it or copies.
  await daemon.berthOk(['create', '--name', 'seed4', 'seedy:1', 'true']);
  await daemon.berthOk(['create', '--name', 'seed5', 'seedy:1', 'true']);
  for (const name of ['seed4', 'seed5']) assert.equal(readFileSync(join(await volumeSource(name), 'sub', 'b'), 'utf8'), 'b\n', name);
  await seedInode(imageId);

  await daemon.berthOk(['rm', '-v', 'seed2', 'seed3', 'seed4', 'seed5']);
  await daemon.berthOk(['volume', 'rm', 'full', 'empty', 'newvol']);
  await daemon.berthOk(['rmi', 'seedy:1']);
  await waitFor('the seed to go with the image', () => seedsOf(imageId).length === 0);
  assert.deepEqual(readdirSync(seedsDir()).filter((name) => name.startsWith('.')), [], 'nothing half-made left');
});

test('start-up sweeps half-made seeds, their mounts and seeds of gone images; a complete seed stays, also after a kill -9', async () => {
  const imageId = await importSeedImage('sweep:1');
  for (let run = 0; run < 2; run++) await daemon.berthOk(['run', '--rm', 'sweep:1', 'true']);
  const seed = await seedInode(imageId);
  const mountPoint = join(seedsDir(), '.mnt-0123456789ab');
  try {
    await daemon.stop();
    mkdirSync(join(seedsDir(), '.tmp-0123456789ab', 'half'), { recursive: true });
    mkdirSync(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mountPoint]);
    writeFileSync(join(mountPoint, 'kept'), 'not deleted through a mount\n');
    mkdirSync(join(seedsDir(), `${'0'.repeat(64)}-0123456789abcdef`, 'x'), { recursive: true });
    await daemon.start();
    assert.deepEqual(readdirSync(seedsDir()).filter((name) => name.startsWith('.') || name.startsWith('0'.repeat(64))), [], 'only seeds of images that exist');
    assert.equal(await seedInode(imageId), seed);
    assert.deepEqual(mountsUnder(seedsDir()), []);

    // Killed while a new seed is being made (or just after): what is left is complete or swept.
    await daemon.berthOk(['run', '--rm', 'sweep:1', 'true']);
    await daemon.kill9();
    await daemon.start();
    assert.deepEqual(mountsUnder(seedsDir()), []);
    assert.deepEqual(readdirSync(seedsDir()).filter((name) => name.startsWith('.')), []);
    const left = seedsOf(imageId);
    assert.ok(left.length <= 1);
    if (left.length === 1) assert.equal(readFileSync(join(seedsDir(), left[0]!, 'a'), 'utf8'), 'seeded\n');
    assert.equal(await daemon.berthOk(['run', '--rm', 'sweep:1', 'cat', '/data/a']), 'seeded\n');
  } finally {
    if (mountsUnder(seedsDir()).includes(mountPoint)) execFileSync('umount', [mountPoint]);
  }
  await daemon.berthOk(['rmi', 'sweep:1']);
  await waitFor('the seed to go with the image', () => seedsOf(imageId).length === 0);
});
