import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { packWithGnuTar, whiteoutOf } from '../../src/archive/gnu-tar.js';
import { readTar } from '../../src/archive/tar.js';
import { BuildContext } from '../../src/build/context.js';
import { checksumSources, diskTree, type CopySource } from '../../src/build/sources.js';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'build-context-index-'));
}

/** A context directory: a Dockerfile, a tree with a subdirectory, a symlink and a hard link. */
function writeContext(dir: string): void {
  mkdirSync(join(dir, 'src/sub'), { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY src /src\n');
  writeFileSync(join(dir, 'src/a.txt'), 'alpha');
  writeFileSync(join(dir, 'src/sub/b.txt'), 'x'.repeat(70_000), { mode: 0o600 });
  symlinkSync('a.txt', join(dir, 'src/link'));
  linkSync(join(dir, 'src/a.txt'), join(dir, 'src/sub/hard'));
}

async function names(tar: Readable): Promise<string[]> {
  const found: string[] = [];
  for await (const { header, body } of readTar(tar)) {
    for await (const _ of body) { /* drained */ }
    found.push(header.name);
  }
  return found;
}

async function sourceChecksum(context: BuildContext, path: string): Promise<string> {
  const [found] = await context.sources('COPY', path);
  const source: CopySource = { name: path, hostPath: found!.hostPath, isDirectory: found!.isDirectory, tree: context.tree() };
  return checksumSources([source]);
}

test('a COPY checksum from the context index equals the one read from disk, without unpacking', async () => {
  const dir = scratch();
  try {
    writeContext(join(dir, 'ctx'));
    mkdirSync(join(dir, 'work/context'), { recursive: true });
    const context = await BuildContext.unpack(packWithGnuTar(join(dir, 'ctx'), ['.'], { recursive: true }), join(dir, 'work/context'), 'Dockerfile');
    assert.ok(context.tree(), 'a plain archive is read from its index');
    assert.equal(await context.readDockerfile(''), 'FROM busybox\nCOPY src /src\n');
    assert.equal(existsSync(join(dir, 'work/context/src')), false, 'nothing unpacked yet');
    const fromIndex = await sourceChecksum(context, 'src');
    const fromDisk = await checksumSources([{ name: 'src', hostPath: join(dir, 'ctx/src'), isDirectory: true, tree: diskTree }]);
    assert.equal(fromIndex, fromDisk);
    assert.match(fromIndex, /^dir:[a-f0-9]{64}$/);
    // A symlink to a file is followed in scope, as on disk.
    assert.equal(await sourceChecksum(context, 'src/link'), await checksumSources([{ name: 'src/link', hostPath: join(dir, 'ctx/src/a.txt'), isDirectory: false }]));

    await context.unpackToDisk();
    assert.equal(readFileSync(join(dir, 'work/context/src/sub/b.txt'), 'utf8'), 'x'.repeat(70_000));
    assert.equal(await sourceChecksum(context, 'src'), fromIndex);
    await context.remove();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.dockerignore applies to the index and to the context unpacked later', async () => {
  const dir = scratch();
  try {
    writeContext(join(dir, 'ctx'));
    writeFileSync(join(dir, 'ctx/.dockerignore'), 'src/sub\n');
    mkdirSync(join(dir, 'work/context'), { recursive: true });
    const context = await BuildContext.unpack(packWithGnuTar(join(dir, 'ctx'), ['.'], { recursive: true }), join(dir, 'work/context'), 'Dockerfile');
    assert.ok(context.tree());
    await assert.rejects(context.sources('COPY', 'src/sub/b.txt'), /file not found in build context or excluded by \.dockerignore/);
    await context.unpackToDisk();
    assert.equal(existsSync(join(dir, 'work/context/src/sub')), false);
    assert.equal(existsSync(join(dir, 'work/context/src/a.txt')), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an archive the index cannot stand for (a name twice) is unpacked at once and read from disk', async () => {
  const dir = scratch();
  try {
    const pack = tarStream.pack();
    pack.entry({ name: 'Dockerfile' }, 'FROM busybox\n');
    pack.entry({ name: 'f' }, 'first');
    pack.entry({ name: 'f' }, 'second');
    pack.finalize();
    mkdirSync(join(dir, 'work/context'), { recursive: true });
    const context = await BuildContext.unpack(Readable.from(pack as AsyncIterable<Buffer>), join(dir, 'work/context'), 'Dockerfile');
    assert.equal(context.tree(), undefined);
    assert.equal(readFileSync(join(dir, 'work/context/f'), 'utf8'), 'second');
    assert.equal(await context.readDockerfile(''), 'FROM busybox\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('packWithGnuTar: names alone in the order given, then the appended files', async () => {
  const dir = scratch();
  try {
    writeContext(dir);
    const listed = await names(packWithGnuTar(dir, ['src', 'src/a.txt'], { append: [whiteoutOf('etc/gone')] }));
    assert.deepEqual(listed, ['src/', 'src/a.txt', 'etc/.wh.gone']);
    await assert.rejects(names(packWithGnuTar(dir, ['missing'])), /missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
