import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FilesystemChange } from '../../src/wire/types.js';
import {
  comparePaths, computeChanges, imageViewOf, parseGetfattr, sameFsTime, scanUpper, statDifferent,
  type FileFacts, type ImageView, type UpperNode,
} from '../../src/containers/changes.js';

const SECOND = 1_000_000_000n;
const dir = (extra: Partial<FileFacts> = {}): FileFacts => ({ kind: 'directory', mode: 0o40755, uid: 0, gid: 0, rdev: 0, size: 4096, mtimeNs: 5n * SECOND, ...extra });
const file = (extra: Partial<FileFacts> = {}): FileFacts => ({ kind: 'file', mode: 0o100644, uid: 0, gid: 0, rdev: 0, size: 10, mtimeNs: 5n * SECOND, ...extra });
const whiteout = (): FileFacts => ({ kind: 'whiteout', mode: 0o20000, uid: 0, gid: 0, rdev: 0, size: 0, mtimeNs: 9n * SECOND });
const node = (name: string, facts: FileFacts, children: UpperNode[] = []): UpperNode => ({ name, facts, children });

/** An image from path -> facts; a directory's listing from the paths below it. */
function imageOf(entries: Record<string, FileFacts>, capabilities: Record<string, string> = {}): ImageView {
  return {
    lookup: async (path) => entries[path],
    list: async (path) => Object.keys(entries)
      .filter((candidate) => candidate.startsWith(path === '/' ? '/' : `${path}/`) && candidate !== path)
      .map((candidate) => candidate.slice(path === '/' ? 1 : path.length + 1))
      .filter((rest) => !rest.includes('/')),
    capability: async (path) => capabilities[path],
  };
}

const IMAGE = imageOf({
  '/etc': dir(), '/etc/passwd': file(), '/etc/group': file(), '/bin': dir(), '/bin/sh': file({ size: 1000 }),
  '/var': dir(), '/var/spool': dir(), '/var/spool/mail': dir(), '/var/spool/cron': file(), '/tmp': dir({ mode: 0o41777 }),
  '/usr': dir(), '/usr/ping': file({ size: 20 }), '/data': file(),
}, { '/usr/ping': '0x0100' });

const text = (changes: FilesystemChange[]) => changes.map((change) => `${'CAD'[change.Kind]} ${change.Path}`);

test('added, modified and deleted entries, with the directories that hold them', async () => {
  const upper = [
    node('etc', dir({ mtimeNs: 99n * SECOND }), [
      node('group', file({ mode: 0o100600 })),
      node('passwd', whiteout()),
      node('hostname', file({ size: 0 })),
      node('resolv.conf', file({ size: 0 })),
    ]),
    node('new', dir(), [node('dir', dir(), [node('f', file())])]),
    node('var', dir(), [node('spool', dir({ opaque: true }), [node('new', file())])]),
    node('tmp', dir({ mode: 0o41777 }), [node('gone', whiteout())]),
    // Copied up without a change: nothing to report, unless its capability went.
    node('bin', dir(), [node('sh', file({ size: 1000 }))]),
    node('usr', dir(), [node('ping', file({ size: 20 }))]),
    // A file replaced by a directory, and the new directory's contents.
    node('data', dir({ opaque: true }), [node('inside', file())]),
  ];
  assert.deepEqual(text(await computeChanges(upper, IMAGE)), [
    'C /data', 'A /data/inside',
    'C /etc', 'C /etc/group', 'D /etc/passwd',
    'A /new', 'A /new/dir', 'A /new/dir/f',
    'C /usr', 'C /usr/ping',
    'C /var', 'C /var/spool', 'D /var/spool/cron', 'D /var/spool/mail', 'A /var/spool/new',
  ]);
});

test('a fresh container has no changes: the mount points runc made are Docker\'s init layer', async () => {
  const upper = [
    node('etc', dir(), [node('hostname', file({ size: 0 })), node('hosts', file({ size: 0 })), node('resolv.conf', file({ size: 0 }))]),
    node('dev', dir()), node('proc', dir()), node('sys', dir()),
  ];
  assert.deepEqual(await computeChanges(upper, imageOf({})), []);
  // ... but what is put in such a directory is a change of it.
  const withFile = [node('etc', dir(), [node('hostname', file()), node('added', file())])];
  assert.deepEqual(text(await computeChanges(withFile, imageOf({}))), ['C /etc', 'A /etc/added']);
});

test('moby\'s stat comparison: directories\' size and mtime do not count, second-truncated times match', () => {
  assert.ok(!statDifferent(dir(), dir({ size: 8192, mtimeNs: 1n })));
  assert.ok(statDifferent(dir(), dir({ uid: 1 })));
  assert.ok(statDifferent(file(), file({ mtimeNs: 6n * SECOND })));
  assert.ok(statDifferent(file(), file({ size: 11 })));
  assert.ok(!statDifferent(file({ mtimeNs: 5n * SECOND + 123n }), file()));
  assert.ok(sameFsTime(5n * SECOND, 5n * SECOND + 7n));
  assert.ok(!sameFsTime(5n * SECOND + 3n, 5n * SECOND + 7n));
  assert.ok(comparePaths('/etc', '/etc-x') < 0 && comparePaths('/etc/z', '/etc-x') < 0);
});

test('getfattr dumps are parsed, escaped names included', () => {
  const parsed = parseGetfattr('# file: /u/var/spool\ntrusted.overlay.opaque=0x79\n\n# file: /u/a\\040b\nsecurity.capability=0x01\n\n');
  assert.deepEqual(parsed.get('/u/var/spool'), { 'trusted.overlay.opaque': '0x79' });
  assert.deepEqual(parsed.get('/u/a b'), { 'security.capability': '0x01' });
});

test('a real upper directory with overlay whiteouts and an opaque directory', { skip: process.getuid?.() !== 0 && 'needs root (mknod, trusted.* xattrs)' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'archive-changes-'));
  try {
    const image = join(root, 'image');
    const upper = join(root, 'upper');
    for (const path of ['etc', 'var/spool/mail', 'bin']) mkdirSync(join(image, path), { recursive: true });
    for (const path of ['etc/passwd', 'etc/group', 'bin/sh']) writeFileSync(join(image, path), 'x');
    utimesSync(join(image, 'bin/sh'), 100, 100);
    for (const path of ['etc', 'var/spool', 'new', 'bin']) mkdirSync(join(upper, path), { recursive: true });
    execFileSync('mknod', [join(upper, 'etc/passwd'), 'c', '0', '0']);
    writeFileSync(join(upper, 'etc/group'), 'x');
    chmodSync(join(upper, 'etc/group'), 0o600);
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(upper, 'var/spool')]);
    writeFileSync(join(upper, 'var/spool/new'), 'n');
    writeFileSync(join(upper, 'new/f'), 'f');
    writeFileSync(join(upper, 'bin/sh'), 'x');
    utimesSync(join(upper, 'bin/sh'), 100, 100);
    chmodSync(join(upper, 'etc/group'), 0o600);
    assert.deepEqual(text(await computeChanges(await scanUpper(upper), imageViewOf(image))), [
      'C /etc', 'C /etc/group', 'D /etc/passwd', 'A /new', 'A /new/f', 'C /var', 'C /var/spool', 'D /var/spool/mail', 'A /var/spool/new',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
