import { test } from 'node:test';
import assert from 'node:assert/strict';
import { archiveCopyPlan, naturalLess, portLines, resolveLocalPath, splitCpArg, type CopyInfo } from '../../src/cli/commands/files.js';

test('cp arguments: CONTAINER:PATH unless the path is explicitly local', () => {
  assert.deepEqual(splitCpArg('web:/etc/passwd'), ['web', '/etc/passwd']);
  assert.deepEqual(splitCpArg('web:etc'), ['web', 'etc']);
  assert.deepEqual(splitCpArg('/tmp/a:b'), ['', '/tmp/a:b']);
  assert.deepEqual(splitCpArg('./a:b'), ['', './a:b']);
  assert.deepEqual(splitCpArg('file'), ['', 'file']);
  assert.deepEqual(splitCpArg('-'), ['', '-']);
  assert.equal(resolveLocalPath('out/', '/home/u'), '/home/u/out/');
  assert.equal(resolveLocalPath('dir/.', '/home/u'), '/home/u/dir/.');
  assert.equal(resolveLocalPath('../x', '/home/u'), '/home/x');
});

const info = (path: string, exists: boolean, isDir: boolean, rebaseName = ''): CopyInfo => ({ path, exists, isDir, rebaseName });

test('where a copy goes: into a directory, under a new name, or an error as docker words it', () => {
  // An existing directory takes the source as it is.
  assert.deepEqual(archiveCopyPlan(info('/etc/passwd', true, false), info('/tmp', true, true)), { dstDir: '/tmp' });
  // A new name: extracted into the parent, the top entry renamed.
  assert.deepEqual(archiveCopyPlan(info('/etc', true, true), info('/tmp/copy', false, false)), { dstDir: '/tmp', rebase: ['etc', 'copy'] });
  assert.deepEqual(archiveCopyPlan(info('/etc/.', true, true), info('/tmp/flat', false, false)), { dstDir: '/tmp', rebase: ['.', 'flat'] });
  assert.deepEqual(archiveCopyPlan(info('/etc/passwd', true, false), info('/tmp/file', true, false)), { dstDir: '/tmp', rebase: ['passwd', 'file'] });
  assert.deepEqual(archiveCopyPlan(info('/a/target', true, true, 'link'), info('/tmp/x', false, false)), { dstDir: '/tmp', rebase: ['link', 'x'] });
  assert.deepEqual(archiveCopyPlan(info('/etc/passwd', true, false), info('/tmp/passwd', false, false)), { dstDir: '/tmp' });
  assert.throws(() => archiveCopyPlan(info('/etc', true, true), info('/tmp/file', true, false)), { message: 'cannot copy directory' });
  assert.throws(() => archiveCopyPlan(info('/etc/passwd', true, false), info('/missing/', false, false)), { message: 'no such directory' });
  // A directory source to a missing "dir/" is created under that name.
  assert.deepEqual(archiveCopyPlan(info('/etc', true, true), info('/missing/', false, false)), { dstDir: '/', rebase: ['etc', 'missing'] });
});

test('docker port: mappings sorted naturally, one private port, docker\'s errors', () => {
  const ports = {
    '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '49153' }, { HostIp: '::', HostPort: '49153' }],
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8000' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    '443/tcp': null,
  };
  assert.deepEqual(portLines(ports, 'web'), [
    '53/udp -> 127.0.0.1:5353', '80/tcp -> 0.0.0.0:8000', '8080/tcp -> 0.0.0.0:49153', '8080/tcp -> [::]:49153',
  ]);
  assert.deepEqual(portLines(ports, 'web', '8080'), ['0.0.0.0:49153', '[::]:49153']);
  assert.deepEqual(portLines(ports, 'web', '53/udp'), ['127.0.0.1:5353']);
  assert.deepEqual(portLines({}, 'web'), []);
  assert.throws(() => portLines(ports, 'web', '80/udp'), { message: "Error: No public port '80/udp' published for web" });
  assert.throws(() => portLines(ports, 'web', '443/tcp'), { message: "Error: No public port '443/tcp' published for web" });
  assert.throws(() => portLines({}, 'web', '80'), { message: "Error: No public port '80' published for web" });
  assert.throws(() => portLines({}, 'web', 'abc'), { message: 'Error: invalid port (abc): strconv.ParseUint: parsing "abc": invalid syntax' });
  assert.throws(() => portLines({}, 'web', '70000/tcp'), { message: 'Error: invalid port (70000): strconv.ParseUint: parsing "70000": value out of range' });
});

test('natural order: numbers by value, digits before other characters', () => {
  assert.ok(naturalLess('80/tcp', '443/tcp'));
  assert.ok(naturalLess('a2', 'a10'));
  assert.ok(naturalLess('a01', 'a001'));
  assert.ok(naturalLess('1x', 'ax'));
  assert.ok(!naturalLess('b', 'a'));
  assert.ok(naturalLess('ab', 'abc'));
});
