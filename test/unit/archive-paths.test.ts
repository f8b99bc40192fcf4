import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerAbsPath } from '../../src/containers/archive.js';
import { baseName, cleanPath, dirName, followSymlinkInScope, getRebaseName, joinPath, PathError, preserveTrailingDotOrSeparator, resolveInScope, splitPathDirEntry, type ScopeFs } from '../../src/archive/path.js';

/** An in-memory tree: "dir", "file", or "-> target" for a symlink. */
function memoryFs(entries: Record<string, string>): ScopeFs & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    async kind(path) {
      lookups.push(path);
      // A file in the middle of a path is ENOTDIR, as lstat says.
      const parts = path.split('/').filter(Boolean);
      for (let count = 1; count < parts.length; count++) {
        const prefix = `/${parts.slice(0, count).join('/')}`;
        if (entries[prefix] === 'file') throw new PathError('lstat', path, 'ENOTDIR');
      }
      const entry = entries[path];
      if (entry === undefined) return undefined;
      return entry.startsWith('-> ') ? 'symlink' : entry === 'dir' ? 'directory' : 'other';
    },
    async readlink(path) {
      const entry = entries[path];
      if (!entry?.startsWith('-> ')) throw new PathError('readlink', path, 'EINVAL');
      return entry.slice(3);
    },
  };
}

const ROOT = memoryFs({
  '/etc': 'dir',
  '/etc/passwd': 'file',
  '/tmp': 'dir',
  '/tmp/abs': '-> /etc',
  '/tmp/rel': '-> ../etc',
  '/tmp/up': '-> ../../../../../../etc',
  '/tmp/root': '-> /',
  '/tmp/pw': '-> /etc/passwd',
  '/tmp/l1': '-> l2',
  '/tmp/l2': '-> /tmp/abs',
  '/tmp/loop1': '-> loop2',
  '/tmp/loop2': '-> /tmp/loop1',
  '/tmp/self': '-> self',
  '/tmp/dangling': '-> /nowhere/x',
  '/tmp/empty': '-> ',
  '/x': 'dir',
  '/x/y': 'dir',
  '/x/y/c': '-> ../c',
  '/a': '-> /x/y',
});

test('Go path semantics: Clean, Join, Dir, Base', () => {
  const cases: Array<[string, string]> = [
    ['', '.'], ['/', '/'], ['//', '/'], ['/../..', '/'], ['a/../..', '..'], ['./a/', 'a'], ['/a/./b/../c/', '/a/c'],
    ['../x', '../x'], ['a//b', 'a/b'], ['/..', '/'], ['.', '.'],
  ];
  for (const [input, expected] of cases) assert.equal(cleanPath(input), expected, input);
  assert.equal(joinPath('/tmp', '../x'), '/x');
  assert.equal(joinPath('/tmp', '/etc'), '/tmp/etc');
  assert.equal(joinPath('', ''), '');
  assert.equal(dirName('/a/b'), '/a');
  assert.equal(dirName('/a/b/'), '/a/b');
  assert.equal(dirName('a'), '.');
  assert.equal(dirName('/a'), '/');
  assert.equal(baseName('/a/b/'), 'b');
  assert.equal(baseName('/'), '/');
  assert.equal(baseName(''), '.');
  assert.equal(baseName('/etc/.'), '.');
});

test('trailing "/" and "/." survive cleaning; split keeps a final "."', () => {
  assert.equal(preserveTrailingDotOrSeparator('/etc', 'etc/'), '/etc/');
  assert.equal(preserveTrailingDotOrSeparator('/etc', 'etc/.'), '/etc/.');
  assert.equal(preserveTrailingDotOrSeparator('/', '/.'), '/.');
  assert.equal(preserveTrailingDotOrSeparator('/', '/'), '/');
  assert.equal(containerAbsPath('etc/../tmp/'), '/tmp/');
  assert.equal(containerAbsPath('../../etc/passwd'), '/etc/passwd');
  assert.deepEqual(splitPathDirEntry('/a/b/.'), ['/a/b', '.']);
  assert.deepEqual(splitPathDirEntry('/a/b/'), ['/a', 'b']);
  assert.deepEqual(splitPathDirEntry('/'), ['/', '/']);
  assert.deepEqual(getRebaseName('/a/link/', '/a/target'), ['/a/target/', 'link']);
  assert.deepEqual(getRebaseName('/a/link/.', '/a/target'), ['/a/target/.', '']);
  assert.deepEqual(getRebaseName('/a/same', '/b/same'), ['/b/same', '']);
});

test('symlinks are followed inside the root: absolute, relative, through "..", to a link', async () => {
  assert.equal(await followSymlinkInScope('/etc/passwd', ROOT), '/etc/passwd');
  assert.equal(await followSymlinkInScope('/tmp/abs/passwd', ROOT), '/etc/passwd');
  assert.equal(await followSymlinkInScope('/tmp/rel/passwd', ROOT), '/etc/passwd');
  assert.equal(await followSymlinkInScope('/tmp/up/passwd', ROOT), '/etc/passwd');
  assert.equal(await followSymlinkInScope('/tmp/root/../../etc', ROOT), '/etc');
  assert.equal(await followSymlinkInScope('/tmp/l1/passwd', ROOT), '/etc/passwd');
  assert.equal(await followSymlinkInScope('/tmp/pw', ROOT), '/etc/passwd');
  // The path asked for is cleaned first (as moby does); ".." inside a link target goes to the
  // parent of where the link really is.
  assert.equal(await followSymlinkInScope('/tmp/abs/..', ROOT), '/tmp');
  assert.equal(await followSymlinkInScope('/a/c', ROOT), '/x/c');
  assert.equal(await followSymlinkInScope('/tmp/empty', ROOT), '/tmp');
});

test('".." never leaves the root, and missing components are kept', async () => {
  assert.equal(await followSymlinkInScope('/../../../etc/passwd', ROOT), '/etc/passwd');
  assert.equal(await followSymlinkInScope('/missing/../etc', ROOT), '/etc');
  assert.equal(await followSymlinkInScope('/missing/x', ROOT), '/missing/x');
  assert.equal(await followSymlinkInScope('/tmp/dangling', ROOT), '/nowhere/x');
  assert.equal(await followSymlinkInScope('/', ROOT), '/');
});

test('loops are ELOOP errors on the path asked for', async () => {
  for (const path of ['/tmp/loop1', '/tmp/self/x', '/tmp/loop2/y']) {
    await assert.rejects(followSymlinkInScope(path, ROOT), (error: unknown) => {
      assert.ok(error instanceof PathError);
      assert.equal(error.code, 'ELOOP');
      assert.equal(error.message, `lstat ${path}: too many levels of symbolic links`);
      return true;
    });
  }
});

test('a file in the middle of a path is ENOTDIR', async () => {
  await assert.rejects(followSymlinkInScope('/etc/passwd/x/y', ROOT), /not a directory/);
});

test('the last component is followed only when asked or when the path asserts a directory', async () => {
  assert.equal(await resolveInScope('/tmp/abs', ROOT), '/tmp/abs');
  assert.equal(await resolveInScope('/tmp/abs/', ROOT), '/etc');
  assert.equal(await resolveInScope('/tmp/abs/.', ROOT), '/etc');
  assert.equal(await resolveInScope('/tmp/abs', ROOT, true), '/etc');
  assert.equal(await resolveInScope('/tmp/rel/passwd', ROOT), '/etc/passwd');
  assert.equal(await resolveInScope('/tmp/l1', ROOT), '/tmp/l1');
  assert.equal(await resolveInScope('/', ROOT), '/');
});

test('the resolver only looks at paths built from resolved components', async () => {
  const fs = memoryFs({ '/tmp': 'dir', '/tmp/up': '-> ../../../etc', '/etc': 'dir' });
  await followSymlinkInScope('/tmp/up/passwd', fs);
  for (const looked of fs.lookups) {
    assert.ok(looked.startsWith('/') && !looked.includes('..'), looked);
  }
});
