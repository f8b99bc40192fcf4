// The remote API's pure rules: -H grammar, dockerd's TLS defaults and the refusal of
// unauthenticated TCP off loopback, socket activation, the socket's group, and the CLI's
// choice of context and TLS material.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, mergeConfig, parseDaemonArgs, type DaemonConfig } from '../../src/daemon/config.js';
import { activatedSockets, groupId, planListeners } from '../../src/daemon/listeners.js';
import { formatDockerHost, HostFormatError, isLoopbackAddress, parseDockerHost } from '../../src/util/docker-host.js';
import { chooseContext, contextDirName, defaultHost, defaultTls, validateContextName } from '../../src/cli/contexts.js';
import { parseEndpointFlag } from '../../src/cli/commands/context.js';
import { parseHost } from '../../src/client/engine-client.js';

const config = (flags: Partial<DaemonConfig>): DaemonConfig => ({ ...DEFAULT_CONFIG, ...flags });

test('-H grammar: unix, tcp (bare host:port too), fd; default ports 2375 / 2376 with TLS', () => {
  assert.deepEqual(parseDockerHost('unix:///x.sock'), { proto: 'unix', path: '/x.sock' });
  assert.deepEqual(parseDockerHost('unix://'), { proto: 'unix', path: '/run/berth/berth.sock' });
  assert.deepEqual(parseDockerHost('tcp://0.0.0.0:2376'), { proto: 'tcp', host: '0.0.0.0', port: 2376 });
  assert.deepEqual(parseDockerHost('tcp://10.0.0.1'), { proto: 'tcp', host: '10.0.0.1', port: 2375 });
  assert.deepEqual(parseDockerHost('tcp://10.0.0.1', { tls: true }), { proto: 'tcp', host: '10.0.0.1', port: 2376 });
  assert.deepEqual(parseDockerHost('tcp://'), { proto: 'tcp', host: 'localhost', port: 2375 });
  assert.deepEqual(parseDockerHost('127.0.0.1:9'), { proto: 'tcp', host: '127.0.0.1', port: 9 });
  assert.deepEqual(parseDockerHost('tcp://[::1]:5'), { proto: 'tcp', host: '::1', port: 5 });
  assert.equal(formatDockerHost(parseDockerHost('tcp://[::1]:5')), 'tcp://[::1]:5');
  assert.deepEqual(parseDockerHost('fd://'), { proto: 'fd', fd: '*' });
  assert.deepEqual(parseDockerHost('fd://4'), { proto: 'fd', fd: 4 });
  assert.throws(() => parseDockerHost('udp://x:1'), HostFormatError);
  assert.throws(() => parseDockerHost('tcp://x:99999'), /invalid port/);
  assert.throws(() => parseDockerHost('tcp://x:1/path'), /should not contain a path element/);
  assert.deepEqual(parseHost('tcp://h', { tls: true }), { host: 'h', port: 2376 });
  assert.ok(isLoopbackAddress('127.0.0.5') && isLoopbackAddress('::1') && isLoopbackAddress('localhost'));
  assert.ok(!isLoopbackAddress('0.0.0.0') && !isLoopbackAddress('10.1.2.3') && !isLoopbackAddress('::'));
});

test('daemon flags and daemon.json keys for TLS and the socket group', () => {
  const { flags } = parseDaemonArgs(['--tls', '--tlsverify=false', '--tlscacert', '/c', '--tlscert=/s', '--tlskey', '/k', '-G', 'docker']);
  assert.deepEqual(
    { tls: flags.tls, tlsVerify: flags.tlsVerify, ca: flags.tlsCaCert, cert: flags.tlsCert, key: flags.tlsKey, group: flags.group },
    { tls: true, tlsVerify: false, ca: '/c', cert: '/s', key: '/k', group: 'docker' },
  );
  const merged = mergeConfig({}, JSON.stringify({ hosts: ['tcp://0.0.0.0:2376'], tlsverify: true, tlscacert: '/ca', tlscert: '/c', tlskey: '/k', group: 'g' }));
  assert.equal(merged.tlsVerify, true);
  assert.equal(merged.tls, undefined);
  assert.equal(merged.group, 'g');
  assert.throws(() => mergeConfig({}, '{"tls": "yes"}'), ConfigError);
  assert.throws(() => mergeConfig({ tlsVerify: true }, '{"tlsverify": true}'), /both as a flag and in the configuration file: tlsverify/);
});

test("dockerd's TLS defaults: --tlsverify implies --tls; --tls implies verification unless --tlsverify=false", () => {
  assert.equal(planListeners(config({ hosts: ['unix:///s'] }), {}).tls, undefined);
  const mutual = planListeners(config({ hosts: ['tcp://0.0.0.0:2376'], tlsVerify: true }), {});
  assert.deepEqual(mutual.tls, { caFile: '/etc/berth/ca.pem', certFile: '/etc/berth/cert.pem', keyFile: '/etc/berth/key.pem', verifyClients: true });
  assert.deepEqual(mutual.warnings, []);
  assert.equal(planListeners(config({ hosts: ['tcp://0.0.0.0:1'], tls: true }), {}).tls?.verifyClients, true);
  const serverOnly = planListeners(config({ hosts: ['tcp://127.0.0.1:1'], tls: true, tlsVerify: false }), { DOCKER_CERT_PATH: '/certs' });
  assert.equal(serverOnly.tls?.verifyClients, false);
  assert.equal(serverOnly.tls?.certFile, '/certs/cert.pem');
  assert.equal(serverOnly.warnings.length, 2);
  assert.equal(planListeners(config({ hosts: ['tcp://0.0.0.0:1'] }), { DOCKER_TLS_VERIFY: '1' }).tls?.verifyClients, true);
  assert.deepEqual(planListeners(config({ hosts: ['tcp://'], tlsVerify: true }), {}).hosts, [{ proto: 'tcp', host: 'localhost', port: 2376 }]);
});

test('unauthenticated TCP: warned on loopback, refused elsewhere unless --tls=false or --tlsverify=false', () => {
  const loopback = planListeners(config({ hosts: ['tcp://127.0.0.1:2375'] }), {});
  assert.match(loopback.warnings[0]!, /Binding to IP address without --tlsverify is insecure/);
  assert.throws(() => planListeners(config({ hosts: ['tcp://0.0.0.0:2375'] }), {}), (error: Error) =>
    error instanceof ConfigError && /WARNING: Binding to IP address without --tlsverify/.test(error.message)
    && /refusing to listen on tcp:\/\/0\.0\.0\.0:2375/.test(error.message) && /'--tls=false' or '--tlsverify=false'/.test(error.message));
  assert.throws(() => planListeners(config({ hosts: ['tcp://example.internal:2375'] }), {}), ConfigError);
  assert.equal(planListeners(config({ hosts: ['tcp://example.internal:2375'] }), {}, (host) => host === 'example.internal').hosts.length, 1);
  assert.equal(planListeners(config({ hosts: ['tcp://0.0.0.0:2375'], tls: false }), {}).warnings.length, 2);
  assert.equal(planListeners(config({ hosts: ['tcp://0.0.0.0:2375'], tlsVerify: false }), {}).tls?.verifyClients, false);
  assert.throws(() => planListeners(config({ hosts: ['bad://x'] }), {}), ConfigError);
});

test('socket activation: only with LISTEN_PID naming this process', () => {
  assert.deepEqual(activatedSockets({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42, '*'), [3, 4]);
  assert.deepEqual(activatedSockets({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42, 4), [4]);
  assert.throws(() => activatedSockets({ LISTEN_PID: '41', LISTEN_FDS: '2' }, 42, '*'), /no sockets found via socket activation/);
  assert.throws(() => activatedSockets({}, 42, '*'), /no sockets found/);
  assert.throws(() => activatedSockets({ LISTEN_PID: '42', LISTEN_FDS: '1' }, 42, 5), /too few socket activated files/);
});

test('the socket group from /etc/group, or a number', () => {
  const groups = 'root:x:0:\ndocker:x:998:alice\nberth:x:997:\n';
  assert.equal(groupId(groups, 'berth'), 997);
  assert.equal(groupId(groups, 'nope'), undefined);
  assert.equal(groupId(groups, '1234'), 1234);
});

test('which context: --context, else default with -H or DOCKER_HOST, else DOCKER_CONTEXT, else currentContext', () => {
  assert.equal(chooseContext({ context: 'a', hosts: [] }, { DOCKER_HOST: 'tcp://x:1' }, 'b'), 'a');
  assert.throws(() => chooseContext({ context: 'a', hosts: ['tcp://x:1'] }, {}, undefined), /conflicting options: either specify --host or --context, not both/);
  assert.equal(chooseContext({ hosts: ['tcp://x:1'] }, { DOCKER_CONTEXT: 'c' }, 'b'), 'default');
  assert.equal(chooseContext({ hosts: [] }, { DOCKER_HOST: 'tcp://x:1', DOCKER_CONTEXT: 'c' }, 'b'), 'default');
  assert.equal(chooseContext({ hosts: [] }, { DOCKER_CONTEXT: 'c' }, 'b'), 'c');
  assert.equal(chooseContext({ hosts: [] }, {}, 'b'), 'b');
  assert.equal(chooseContext({ hosts: [] }, {}, undefined), 'default');
  assert.equal(contextDirName('foo'), '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae');
  assert.throws(() => validateContextName('Bad/Name'), /names are validated against regexp/);
  assert.throws(() => validateContextName('default'), /reserved/);
  assert.deepEqual(parseEndpointFlag('host=tcp://h:1,skip-tls-verify=true'), { host: 'tcp://h:1', 'skip-tls-verify': 'true' });
  assert.throws(() => parseEndpointFlag('hots=tcp://h:1'), /unrecognized config key: hots/);
});

test("the default context's host and TLS material, as the docker CLI's flags", async () => {
  assert.equal(defaultHost({ hosts: [] }, {}, false), 'unix:///run/berth/berth.sock');
  assert.equal(defaultHost({ hosts: [] }, {}, true), 'tcp://localhost:2376');
  assert.equal(defaultHost({ hosts: ['tcp://h'] }, {}, true), 'tcp://h:2376');
  assert.equal(defaultHost({ hosts: [] }, { DOCKER_HOST: 'tcp://h:9' }, false), 'tcp://h:9');
  const dir = mkdtempSync('/tmp/berth-unit-tls-');
  try {
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, file), file);
    const base = { hosts: [], tls: false, tlsVerify: undefined };
    assert.equal(await defaultTls(base, {}, dir), undefined);
    const fromEnv = await defaultTls(base, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }, '/nonexistent');
    assert.deepEqual({ verify: fromEnv?.verify, ca: fromEnv?.ca?.toString(), cert: fromEnv?.cert?.toString() }, { verify: true, ca: 'ca.pem', cert: 'cert.pem' });
    const tlsOnly = await defaultTls({ ...base, tls: true }, {}, dir);
    assert.equal(tlsOnly?.verify, false);
    assert.equal(tlsOnly?.ca, undefined);
    assert.equal(tlsOnly?.key?.toString(), 'key.pem');
    const explicitOff = await defaultTls({ ...base, tlsVerify: false }, { DOCKER_TLS_VERIFY: '1' }, dir);
    assert.equal(explicitOff?.verify, false);
    await assert.rejects(defaultTls({ ...base, tlsVerify: true, tlsCert: join(dir, 'missing.pem') }, {}, dir), /could not read certificate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
