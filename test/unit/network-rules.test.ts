// iptables rules and published ports, pure: the rule text per daemon prefix, jumps added only when
// missing, removal touching only our chains, and port requests checked with Docker's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainNames, missingJumps, removalText, restoreText } from '../../src/network/rules.js';
import { inspectPorts, portRequests, summaryPorts } from '../../src/network/ports.js';

const chains = chainNames('bt0');

test('chain names carry the bridge and fit iptables\' 28 characters', () => {
  assert.equal(chains.main, 'BERTH-bt0');
  for (const name of Object.values(chainNames('abcdefghijklmno'))) assert.ok(name.length <= 28, name);
});

test('the rule text: DNAT and ACCEPT per published port, masquerade, isolation, icc=false and links, internal networks', () => {
  const text = restoreText(chains, {
    networks: [
      { bridge: 'bt0', subnet: '10.9.0.0/24', internal: false, masquerade: true, icc: false },
      { bridge: 'br-int', subnet: '10.9.1.0/24', internal: true, masquerade: true, icc: true },
    ],
    ports: [{ bridge: 'bt0', proto: 'tcp', hostIp: '', hostPort: 8080, containerIp: '10.9.0.2', containerPort: 80 }],
    links: [{ bridge: 'bt0', parentIp: '10.9.0.3', childIp: '10.9.0.2', proto: 'tcp', port: 80 }],
  }, [['filter', 'FORWARD', '-j BERTH-bt0-FWD']]);
  const lines = text.split('\n');
  for (const expected of [
    ':BERTH-bt0 - [0:0]',
    '-I FORWARD 1 -j BERTH-bt0-FWD',
    '-A BERTH-bt0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.9.0.2:80',
    '-A BERTH-bt0 -d 10.9.0.2/32 ! -i bt0 -o bt0 -p tcp -m tcp --dport 80 -j ACCEPT',
    '-A BERTH-bt0-POST -s 10.9.0.0/24 ! -o bt0 -j MASQUERADE',
    '-A BERTH-bt0-POST -s 127.0.0.0/8 -o bt0 -j MASQUERADE',
    '-A BERTH-bt0-FWD -i bt0 -o bt0 -j DROP',
    '-A BERTH-bt0 -s 10.9.0.3/32 -d 10.9.0.2/32 -i bt0 -o bt0 -p tcp -m tcp --dport 80 -j ACCEPT',
    '-A BERTH-bt0 -s 10.9.0.2/32 -d 10.9.0.3/32 -i bt0 -o bt0 -p tcp -m tcp --sport 80 -j ACCEPT',
    '-A BERTH-bt0-ISO1 -i bt0 ! -o bt0 -j BERTH-bt0-ISO2',
    '-A BERTH-bt0-ISO2 -o br-int -j DROP',
    '-A BERTH-bt0-ISO1 -i br-int ! -d 10.9.1.0/24 -j DROP',
    '-A BERTH-bt0-FWD -i br-int -o br-int -j ACCEPT',
  ]) assert.ok(lines.includes(expected), `missing: ${expected}\n${text}`);
  assert.ok(!lines.some((line) => line.includes('-s 10.9.1.0/24 ! -o br-int -j MASQUERADE')), 'an internal network is not masqueraded');
  assert.ok(!lines.includes('-A BERTH-bt0-FWD -i br-int ! -o br-int -j ACCEPT'), 'an internal network has no way out');
});

test('jumps are added only where missing; removal touches our chains and jumps only', () => {
  const saved = ['*nat', ':PREROUTING ACCEPT [0:0]', ':DOCKER - [0:0]', ':BERTH-bt0 - [0:0]', ':BERTH-bt0-POST - [0:0]', ':BERTH-other - [0:0]',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-bt0', '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-other', '-A BERTH-bt0 -p tcp -m tcp --dport 1 -j DNAT --to-destination 1.2.3.4:1', 'COMMIT',
    '*filter', ':FORWARD ACCEPT [0:0]', 'COMMIT', ''].join('\n');
  assert.deepEqual(missingJumps(saved, chains).map(([table, chain]) => `${table} ${chain}`), ['filter FORWARD', 'nat OUTPUT', 'nat POSTROUTING']);
  const removal = removalText(saved, chains);
  assert.match(removal, /-D PREROUTING -m addrtype --dst-type LOCAL -j BERTH-bt0\n/);
  assert.match(removal, /-X BERTH-bt0-POST/);
  assert.doesNotMatch(removal, /DOCKER|BERTH-other/);
});

test('port requests: the four -p forms, ranges, udp, -P over the exposed ports; Docker\'s words for bad specs', () => {
  const requests = portRequests({
    '80/tcp': [{ HostIp: '', HostPort: '' }, { HostIp: '127.0.0.1', HostPort: '8080' }],
    '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
    '90/tcp': [{ HostPort: '9000-9010' }],
  }, true, { '80/tcp': {}, '443/tcp': {} });
  assert.deepEqual(requests, [
    { proto: 'tcp', containerPort: 80, hostIp: '', hostPort: 0, hostPortEnd: undefined },
    { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPort: 8080, hostPortEnd: undefined },
    { proto: 'udp', containerPort: 53, hostIp: '', hostPort: 5353, hostPortEnd: undefined },
    { proto: 'tcp', containerPort: 90, hostIp: '', hostPort: 9000, hostPortEnd: 9010 },
    { proto: 'tcp', containerPort: 443, hostIp: '', hostPort: 0 },
  ]);
  assert.throws(() => portRequests({ 'abc/tcp': [] }, false, {}), /invalid port specification: "abc"/);
  assert.throws(() => portRequests({ '80/tcp': [{ HostPort: '99999' }] }, false, {}), /invalid port specification: "99999"/);
  const mappings = [{ proto: 'tcp' as const, containerPort: 80, hostIp: '', hostPort: 32768 }];
  assert.deepEqual(inspectPorts(['80/tcp', '443/tcp'], mappings), { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }], '443/tcp': null });
  assert.deepEqual(summaryPorts(['80/tcp', '443/tcp'], mappings), [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' }, { PrivatePort: 443, Type: 'tcp' }]);
});
