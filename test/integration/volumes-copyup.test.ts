// The copy-up of a new volume in detail (native/copy-tree.c, or cp -a without it): what an image
// holds at a VOLUME path arrives in the volume with its xattrs, device nodes, fifos, hard links,
// nanosecond times, setgid directories and unfollowed symlinks, as Docker's copy-up keeps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon } from './harness.js';

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
