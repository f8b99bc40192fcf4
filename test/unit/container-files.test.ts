import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostsFile, resolvConf } from '../../src/containers/etc-files.js';
import { normalizeTimestamp, parseLogRecord, timestampToNs } from '../../src/containers/logs.js';
import { parseSignal } from '../../src/util/signals.js';
import { cleanRuntimeMessage } from '../../src/runtime/shim.js';
import { exitCodeForStartError } from '../../src/containers/service.js';

test('k8s-file records: full and partial lines, both streams, malformed', () => {
  const parse = (record: string) => parseLogRecord(Buffer.from(record));
  assert.equal(parse('2024-01-02T03:04:05.123456789+00:00 stdout F hello world')?.bytes.toString(), 'hello world\n');
  const partial = parse('2024-01-02T03:04:05.1Z stderr P no newline');
  assert.equal(partial?.stream, 'stderr');
  assert.equal(partial?.bytes.toString(), 'no newline');
  assert.equal(parse('2024-01-02T03:04:05Z stdout F ')?.bytes.toString(), '\n');
  assert.equal(parse('garbage'), undefined);
  assert.equal(parse('2024-01-02T03:04:05Z stdin F x'), undefined);
});

test('log timestamps keep nanoseconds and are shown in UTC', () => {
  assert.equal(timestampToNs('1970-01-01T00:00:01.000000002Z'), 1_000_000_002n);
  assert.equal(timestampToNs('1970-01-01T01:00:01.5+01:00'), 1_500_000_000n);
  assert.equal(normalizeTimestamp('2024-01-02T05:04:05.123456789+02:00'), '2024-01-02T03:04:05.123456789Z');
});

test('/etc/hosts has localhost, the container and --add-host entries', () => {
  const text = hostsFile('abc123', '172.17.0.2', ['db:10.0.0.5']);
  assert.match(text, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(text, /^10\.0\.0\.5\tdb$/m);
  assert.match(text, /^172\.17\.0\.2\tabc123$/m);
});

test('resolv.conf drops loopback servers unless on the host network, falls back to public ones', () => {
  const host = 'nameserver 127.0.0.53\nsearch corp.example\noptions edns0\n';
  assert.equal(resolvConf(host, { hostNetwork: false }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch corp.example\noptions edns0\n');
  assert.equal(resolvConf(host, { hostNetwork: true }), 'nameserver 127.0.0.53\nsearch corp.example\noptions edns0\n');
  assert.equal(resolvConf(host, { hostNetwork: false, dns: ['1.1.1.1'], search: ['a.b'], dnsOptions: ['ndots:2'] }), 'nameserver 1.1.1.1\nsearch a.b\noptions ndots:2\n');
});

test('signals by name, short name and number; invalid ones rejected', () => {
  assert.equal(parseSignal('SIGTERM'), 15);
  assert.equal(parseSignal('usr1'), 10);
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal(undefined), 9);
  assert.equal(parseSignal('SIGNOPE'), undefined);
  assert.equal(parseSignal('99'), undefined);
});

test('runtime errors read like Docker\'s, and map to the CLI exit codes', () => {
  const runcLog = 'time="2024-01-01T00:00:00Z" level=error msg="runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"';
  assert.equal(cleanRuntimeMessage(runcLog), 'runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH');
  assert.equal(exitCodeForStartError('exec: "nope": executable file not found in $PATH'), 127);
  assert.equal(exitCodeForStartError('exec: "/etc/passwd": permission denied'), 126);
  assert.equal(exitCodeForStartError('something else'), 128);
});

test("crun's messages are worded as runc's, which the docker CLI maps to exit codes 127 and 126", () => {
  assert.equal(cleanRuntimeMessage('executable file `nope` not found in $PATH: No such file or directory'), 'exec: "nope": executable file not found in $PATH');
  assert.equal(cleanRuntimeMessage('executable file `/nope` not found in $PATH: No such file or directory'), 'exec: "/nope": stat /nope: no such file or directory');
  assert.equal(cleanRuntimeMessage('open executable: Operation not permitted', '/etc'), 'exec: "/etc": permission denied');
  assert.equal(cleanRuntimeMessage('open executable: Permission denied', '/etc/passwd'), 'exec: "/etc/passwd": permission denied');
  assert.equal(cleanRuntimeMessage('chdir `/etc/passwd`: Not a directory'), 'chdir `/etc/passwd`: not a directory');
  assert.equal(exitCodeForStartError(cleanRuntimeMessage('executable file `/nope` not found in $PATH: No such file or directory')), 127);
});

test('events keep their order within one millisecond', async () => {
  const { EventBus } = await import('../../src/events/bus.js');
  const bus = new EventBus();
  const seen: number[] = [];
  bus.subscribe(undefined, (event) => seen.push(event.timeNano));
  for (let index = 0; index < 50; index++) bus.publish('container', 'start', String(index));
  for (let index = 1; index < seen.length; index++) assert.ok(seen[index] > seen[index - 1], `event ${index} after ${index - 1}`);
  assert.ok(Math.abs(seen[0] / 1e6 - Date.now()) < 5000, 'timeNano is nanoseconds since the epoch');
});
