// Legacy links, pure: moby's link environment (ranges of three or more ports, _NAME, _ENV_) and /etc/hosts lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkEnvironment, linkHostsEntry, parseLink } from '../../src/network/links.js';

test('a link with one port gives the variables of Docker\'s links.go, in its order', () => {
  const env = linkEnvironment({
    alias: 'db-main', parentName: 'web', childName: 'postgres', childHostname: 'abc', childIp: '172.17.0.2',
    ports: ['5432/tcp'], env: ['PATH=/bin', 'HOME=/root', 'POSTGRES_USER=me', 'EMPTY='],
  });
  assert.deepEqual(env, [
    'DB_MAIN_PORT=tcp://172.17.0.2:5432',
    'DB_MAIN_PORT_5432_TCP=tcp://172.17.0.2:5432', 'DB_MAIN_PORT_5432_TCP_ADDR=172.17.0.2', 'DB_MAIN_PORT_5432_TCP_PORT=5432', 'DB_MAIN_PORT_5432_TCP_PROTO=tcp',
    'DB_MAIN_NAME=/web/db-main', 'DB_MAIN_ENV_POSTGRES_USER=me', 'DB_MAIN_ENV_EMPTY=',
  ]);
});

test('three contiguous ports also get the _START/_END range variables; the lowest port is the default', () => {
  const env = linkEnvironment({ alias: 'x', parentName: 'p', childName: 'c', childHostname: 'h', childIp: '10.0.0.9', ports: ['82/tcp', '80/tcp', '81/tcp', '53/udp'], env: [] });
  assert.equal(env[0], 'X_PORT=udp://10.0.0.9:53');
  assert.ok(env.includes('X_PORT_80_TCP_START=tcp://10.0.0.9:80'));
  assert.ok(env.includes('X_PORT_80_TCP_END=tcp://10.0.0.9:82'));
  assert.ok(env.includes('X_PORT_80_TCP_PORT_END=82'));
  assert.ok(env.includes('X_PORT_81_TCP_ADDR=10.0.0.9'));
  assert.ok(!env.some((entry) => entry.startsWith('X_PORT_53_UDP_START')));
});

test('link specs and hosts lines', () => {
  assert.deepEqual(parseLink('/web:www'), { name: 'web', alias: 'www' });
  assert.deepEqual(parseLink('web'), { name: 'web', alias: 'web' });
  assert.equal(linkHostsEntry({ alias: 'www', childHostname: 'abc123', childName: 'web', childIp: '172.17.0.2' }), '172.17.0.2\twww abc123 web');
  assert.equal(linkHostsEntry({ alias: 'web', childHostname: 'abc123', childName: 'web', childIp: '172.17.0.2' }), '172.17.0.2\tweb abc123');
});
