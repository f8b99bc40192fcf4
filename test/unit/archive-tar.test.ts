import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { checkArchive, LOCAL_SCOPE, RootScope, untar, type UntarOptions } from '../../src/archive/untar.js';
import { packPath, readTar, rebaseArchive, type TarHeader } from '../../src/archive/tar.js';

const OPTIONS: UntarOptions = { noOverwriteDirNonDir: true, noLchown: true };

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'archive-tar-'));
}

/** A tar made of the given entries (string bodies for files). */
function tarOf(entries: Array<{ header: TarHeader; body?: string }>): Readable {
  const pack = tarStream.pack();
  for (const { header, body } of entries) pack.entry(header, body ?? '');
  pack.finalize();
  return Readable.from(pack as AsyncIterable<Buffer>);
}

async function listing(tar: Readable): Promise<string[]> {
  const lines: string[] = [];
  for await (const { header, body } of readTar(tar)) {
    let size = 0;
    for await (const chunk of body) size += chunk.length;
    lines.push(`${header.type} ${header.name}${header.linkname ? ` -> ${header.linkname}` : ''} ${size}`);
  }
  return lines;
}

test('packPath names a directory and its contents under the name asked for, in name order', async () => {
  const dir = scratch();
  try {
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/b'), 'bee');
    writeFileSync(join(dir, 'src/sub/a'), 'x'.repeat(100_000));
    linkSync(join(dir, 'src/b'), join(dir, 'src/sub/hard'));
    symlinkSync('/etc/passwd', join(dir, 'src/link'));
    assert.deepEqual(await listing(packPath(join(dir, 'src'), 'etc')), [
      'directory etc/ 0', 'file etc/b 3', 'symlink etc/link -> /etc/passwd 0', 'directory etc/sub/ 0',
      'file etc/sub/a 100000', 'link etc/sub/hard -> etc/b 0',
    ]);
    assert.deepEqual((await listing(packPath(join(dir, 'src/sub'), '.'))).slice(0, 2), ['directory ./ 0', 'file ./a 100000']);
    assert.deepEqual((await listing(packPath(join(dir, 'src/sub'), ''))).slice(0, 2), ['directory / 0', 'file /a 100000']);
    assert.deepEqual(await listing(packPath(join(dir, 'src/link'), 'link')), ['symlink link -> /etc/passwd 0']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('packPath packs grafted directories (mounts) in place of what lies beneath, missing mount points too', async () => {
  const dir = scratch();
  try {
    mkdirSync(join(dir, 'root/data/vol'), { recursive: true });
    writeFileSync(join(dir, 'root/data/vol/hidden'), 'beneath the mount');
    writeFileSync(join(dir, 'root/data/own'), 'own');
    mkdirSync(join(dir, 'volume'));
    writeFileSync(join(dir, 'volume/v'), 'vv');
    mkdirSync(join(dir, 'bind'));
    writeFileSync(join(dir, 'bind/b'), 'b');
    const grafts = new Map([['vol', join(dir, 'volume')], ['vol/nested', join(dir, 'bind')], ['made/inside', join(dir, 'bind')]]);
    assert.deepEqual(await listing(packPath(join(dir, 'root/data'), 'data', { grafts })), [
      'directory data/ 0', 'file data/own 3', 'directory data/vol/ 0', 'directory data/vol/nested/ 0', 'file data/vol/nested/b 1', 'file data/vol/v 2',
    ], 'a graft replaces the directory beneath; one whose parent is missing is left out');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('untar restores contents, modes, times and links; rebaseArchive renames the top', async () => {
  const dir = scratch();
  try {
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/run'), '#!/bin/sh\n', { mode: 0o4755 });
    writeFileSync(join(dir, 'src/sub/data'), 'data');
    linkSync(join(dir, 'src/sub/data'), join(dir, 'src/hard'));
    symlinkSync('sub/data', join(dir, 'src/rel'));
    utimesSync(join(dir, 'src/sub'), 1_600_000_000, 1_600_000_000);
    mkdirSync(join(dir, 'out'));
    await untar(readTar(rebaseArchive(packPath(join(dir, 'src'), 'src'), 'src', 'copy')), join(dir, 'out'), LOCAL_SCOPE, OPTIONS);
    const out = join(dir, 'out/copy');
    assert.deepEqual(readdirSync(out).sort(), ['hard', 'rel', 'run', 'sub']);
    assert.equal(lstatSync(join(out, 'run')).mode & 0o7777, 0o4755);
    assert.equal(readFileSync(join(out, 'hard'), 'utf8'), 'data');
    assert.equal(lstatSync(join(out, 'hard')).ino, lstatSync(join(out, 'sub/data')).ino);
    assert.equal(readlinkSync(join(out, 'rel')), 'sub/data');
    assert.equal(lstatSync(join(out, 'sub')).mtimeMs, 1_600_000_000_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('entries and links that leave the target are refused; absolute names stay inside', async () => {
  const dir = scratch();
  try {
    mkdirSync(join(dir, 'dest'));
    const dest = join(dir, 'dest');
    await assert.rejects(checkArchive(readTar(tarOf([{ header: { name: 'ok' } }, { header: { name: '../escape' } }])), dest, LOCAL_SCOPE, OPTIONS),
      { message: `"../escape" is outside of "${dest}"` });
    await assert.rejects(checkArchive(readTar(tarOf([{ header: { name: 'a/../../escape' } }])), dest, LOCAL_SCOPE, OPTIONS), /is outside of/);
    await assert.rejects(checkArchive(readTar(tarOf([{ header: { name: 'l', type: 'symlink', linkname: '../../etc' } }])), dest, LOCAL_SCOPE, OPTIONS),
      { message: `invalid symlink "${dest}/l" -> "../../etc"` });
    await assert.rejects(checkArchive(readTar(tarOf([{ header: { name: 'h', type: 'link', linkname: '../../etc/passwd' } }])), dest, LOCAL_SCOPE, OPTIONS),
      { message: `invalid hardlink "${join(dir, '../etc/passwd')}" -> "../../etc/passwd"` });
    assert.deepEqual(readdirSync(dest), [], 'the checks write nothing');
    // The same refusals while extracting, before the entry is written.
    await assert.rejects(untar(readTar(tarOf([{ header: { name: '../escape' } }])), dest, LOCAL_SCOPE, OPTIONS), /is outside of/);
    assert.ok(!existsSync(join(dir, 'escape')));

    await untar(readTar(tarOf([{ header: { name: '/abs/file' }, body: 'in' }, { header: { name: 'l', type: 'symlink', linkname: '/etc' } }])), dest, LOCAL_SCOPE, OPTIONS);
    assert.equal(readFileSync(join(dest, 'abs/file'), 'utf8'), 'in');
    assert.equal(readlinkSync(join(dest, 'l')), '/etc');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no directory replaced by a file or the other way round, when asked', async () => {
  const dir = scratch();
  try {
    mkdirSync(join(dir, 'dest/sub'), { recursive: true });
    writeFileSync(join(dir, 'dest/file'), 'old');
    const dest = join(dir, 'dest');
    await assert.rejects(checkArchive(readTar(tarOf([{ header: { name: 'new' } }, { header: { name: 'sub' } }])), dest, LOCAL_SCOPE, OPTIONS),
      { message: `cannot overwrite directory "${dest}/sub" with non-directory "${dest}"` });
    await assert.rejects(checkArchive(readTar(tarOf([{ header: { name: 'file', type: 'directory' } }])), dest, LOCAL_SCOPE, OPTIONS),
      { message: `cannot overwrite non-directory "${dest}/file" with directory "${dest}"` });
    // What the archive itself made earlier counts too.
    await assert.rejects(checkArchive(readTar(tarOf([{ header: { name: 'made', type: 'directory' } }, { header: { name: 'made' } }])), dest, LOCAL_SCOPE, OPTIONS),
      /cannot overwrite directory/);
    assert.ok(!existsSync(join(dest, 'new')));
    // Allowed, an existing file is replaced.
    await untar(readTar(tarOf([{ header: { name: 'file' }, body: 'new' }])), dest, LOCAL_SCOPE, OPTIONS);
    assert.equal(readFileSync(join(dest, 'file'), 'utf8'), 'new');
    await untar(readTar(tarOf([{ header: { name: 'sub' }, body: 'x' }])), dest, LOCAL_SCOPE, { ...OPTIONS, noOverwriteDirNonDir: false });
    assert.ok(lstatSync(join(dest, 'sub')).isFile());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in a container root, links written or found never lead out of it', async () => {
  const dir = scratch();
  const marker = `archive-tar-test-${process.pid}`;
  try {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'tmp'));
    symlinkSync('/etc', join(root, 'tmp/abs'));
    symlinkSync('../../../../../../../etc', join(root, 'tmp/up'));
    symlinkSync('/', join(root, 'tmp/root'));
    const scope = new RootScope(root);
    await untar(readTar(tarOf([
      { header: { name: `abs/${marker}-1` }, body: '1' },
      { header: { name: `up/${marker}-2` }, body: '2' },
      { header: { name: `root/etc/${marker}-3` }, body: '3' },
      // A link made by the archive, then written through: still inside.
      { header: { name: 'made', type: 'symlink', linkname: '/etc' } },
      { header: { name: `made/${marker}-4` }, body: '4' },
      { header: { name: `deep/new/${marker}-5` }, body: '5' },
    ])), '/tmp', scope, { noOverwriteDirNonDir: true, noLchown: false });
    assert.deepEqual(readdirSync(join(root, 'etc')).sort(), [1, 2, 3, 4].map((n) => `${marker}-${n}`));
    assert.equal(readFileSync(join(root, `tmp/deep/new/${marker}-5`), 'utf8'), '5');
    for (let n = 1; n <= 5; n++) assert.ok(!existsSync(`/etc/${marker}-${n}`));
    assert.equal(await scope.readFile('/tmp/up/' + `${marker}-1`), '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an archive that ends early or is not a tar is an error; an empty body is none', async () => {
  const dir = scratch();
  try {
    await untar(readTar(Readable.from([])), dir, LOCAL_SCOPE, OPTIONS);
    await assert.rejects(untar(readTar(Readable.from([Buffer.alloc(700, 1)])), dir, LOCAL_SCOPE, OPTIONS));
    const whole = Buffer.concat(await Readable.from(tarOf([{ header: { name: 'f' }, body: 'x'.repeat(5000) }])).toArray() as Buffer[]);
    await assert.rejects(untar(readTar(Readable.from([whole.subarray(0, 2048)])), dir, LOCAL_SCOPE, OPTIONS));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
