import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statInRoot } from '../../src/containers/archive.js';
import { decodePathStat, encodePathStat, formatGoTimeNs, goFileMode, goModeProblem, isGoDir, isGoSymlink } from '../../src/wire/path-stat.js';

test('Unix modes become Go os.FileMode bits', () => {
  assert.equal(goFileMode(0o100644), 0o644);
  assert.equal(goFileMode(0o040755), 2147484141);
  assert.equal(goFileMode(0o120777), 2 ** 27 + 0o777);
  assert.equal(goFileMode(0o020620), 2 ** 26 + 2 ** 21 + 0o620);
  assert.equal(goFileMode(0o060660), 2 ** 26 + 0o660);
  assert.equal(goFileMode(0o010644), 2 ** 25 + 0o644);
  assert.equal(goFileMode(0o140755), 2 ** 24 + 0o755);
  assert.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
  assert.equal(goFileMode(0o102755), 2 ** 22 + 0o755);
  assert.equal(goFileMode(0o041777), 2 ** 31 + 2 ** 20 + 0o777);
  assert.ok(isGoDir(goFileMode(0o040700)));
  assert.ok(!isGoDir(goFileMode(0o100777)));
  assert.ok(isGoSymlink(goFileMode(0o120777)));
  assert.ok(!isGoSymlink(goFileMode(0o040777)));
  assert.equal(goModeProblem(goFileMode(0o020620)), 'got a device');
  assert.equal(goModeProblem(goFileMode(0o100644)), undefined);
});

test('mtime is Go time JSON: RFC 3339, nanoseconds without trailing zeros', () => {
  assert.equal(formatGoTimeNs(1_700_000_000_123_456_000n), '2023-11-14T22:13:20.123456Z');
  assert.equal(formatGoTimeNs(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
  assert.equal(formatGoTimeNs(1n), '1970-01-01T00:00:00.000000001Z');
  assert.equal(formatGoTimeNs(-1n), '1969-12-31T23:59:59.999999999Z');
});

test('the stat header is base64 of the JSON with Docker key order', () => {
  const stat = { name: 'passwd', size: 340, mode: 420, mtime: '2023-11-14T22:13:20Z', linkTarget: '' };
  const header = encodePathStat(stat);
  assert.equal(Buffer.from(header, 'base64').toString(), '{"name":"passwd","size":340,"mode":420,"mtime":"2023-11-14T22:13:20Z","linkTarget":""}');
  assert.deepEqual(decodePathStat(header), stat);
});

test('stat in a root: links report their target inside the root, errors name the path asked for', async () => {
  const root = mkdtempSync(join(tmpdir(), 'archive-stat-'));
  try {
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    utimesSync(join(root, 'etc/passwd'), 1_700_000_000, 1_700_000_000);
    mkdirSync(join(root, 'tmp'));
    symlinkSync('../../../../etc', join(root, 'tmp/up'));
    symlinkSync('/etc/passwd', join(root, 'tmp/pw'));

    const file = await statInRoot(root, '/tmp/up/passwd', 'passwd');
    assert.equal(file.host, join(root, 'etc/passwd'));
    assert.equal(file.size, 26);
    assert.equal(file.mode & 0o777, 0o644);
    assert.equal(file.mtime, '2023-11-14T22:13:20Z');
    assert.equal(file.linkTarget, '');

    const link = await statInRoot(root, '/tmp/pw', 'pw');
    assert.ok(isGoSymlink(link.mode));
    assert.equal(link.linkTarget, '/etc/passwd');
    const up = await statInRoot(root, '/tmp/up', 'up');
    assert.equal(up.linkTarget, '/etc');
    const followed = await statInRoot(root, '/tmp/up/', 'up');
    assert.ok(isGoDir(followed.mode));
    assert.equal(followed.linkTarget, '');

    await assert.rejects(statInRoot(root, '/tmp/up/missing', 'missing'), /^Error: lstat \/tmp\/up\/missing: no such file or directory$/);
    await assert.rejects(statInRoot(root, '/etc/passwd/', 'passwd'), /lstat \/etc\/passwd\/: not a directory/);
    await assert.rejects(statInRoot(root, '/etc/passwd/x/y', 'y'), /lstat \/etc\/passwd\/x\/y: not a directory/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
