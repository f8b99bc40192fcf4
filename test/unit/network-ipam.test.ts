// IPAM, pure: subnets, pools, addresses handed out lowest-first and never twice, Docker's MACs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocateAddress, DEFAULT_ADDRESS_POOLS, formatSubnet, macFromIpv4, nextFreeSubnet, parseAddressPool, parseAddressSpace, parseSubnet, subnetsOverlap,
} from '../../src/network/ipam.js';

test('subnets parse to their network address and overlap as CIDRs do', () => {
  assert.equal(formatSubnet(parseSubnet('10.1.2.3/16')!), '10.1.0.0/16');
  assert.equal(parseSubnet('10.1.2.3'), undefined);
  assert.equal(parseSubnet('300.1.2.3/8'), undefined);
  assert.ok(subnetsOverlap(parseSubnet('10.0.0.0/8')!, parseSubnet('10.5.0.0/16')!));
  assert.ok(!subnetsOverlap(parseSubnet('10.0.0.0/24')!, parseSubnet('10.0.1.0/24')!));
});

test('a free subnet from the pools skips every taken one (networks, host routes)', () => {
  const pools = [parseAddressPool('base=10.10.0.0/16,size=24')];
  assert.equal(formatSubnet(nextFreeSubnet(pools, [])!), '10.10.0.0/24');
  assert.equal(formatSubnet(nextFreeSubnet(pools, [parseSubnet('10.10.0.0/23')!, parseSubnet('10.10.2.7/32')!])!), '10.10.3.0/24');
  assert.equal(nextFreeSubnet(pools, [parseSubnet('10.10.0.0/16')!]), undefined);
  assert.equal(formatSubnet(nextFreeSubnet(DEFAULT_ADDRESS_POOLS, [parseSubnet('172.17.0.0/16')!])!), '172.18.0.0/16');
  assert.deepEqual(parseAddressPool({ base: '10.20.0.0/16', size: 26 }).size, 26);
  assert.throws(() => parseAddressPool('base=10.10.0.0/16,size=8'), /invalid default address pool/);
});

test('addresses: lowest free first, never the network, broadcast or gateway, never twice; --ip-range and --ip honoured', () => {
  const space = parseAddressSpace({ Subnet: '10.0.0.0/29', Gateway: '10.0.0.1' });
  const used = new Set<string>();
  const handed: string[] = [];
  for (let i = 0; i < 5; i++) {
    const address = allocateAddress(space, used);
    used.add(address);
    handed.push(address);
  }
  assert.deepEqual(handed, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  assert.throws(() => allocateAddress(space, used), /no available IPv4 addresses/);
  used.delete('10.0.0.4');
  assert.equal(allocateAddress(space, used), '10.0.0.4');
  const ranged = parseAddressSpace({ Subnet: '10.1.0.0/16', IPRange: '10.1.5.0/24' });
  assert.equal(allocateAddress(ranged, new Set()), '10.1.5.0');
  assert.equal(allocateAddress(ranged, new Set(), '10.1.9.9'), '10.1.9.9');
  assert.throws(() => allocateAddress(ranged, new Set(['10.1.9.9']), '10.1.9.9'), /Address already in use/);
  assert.throws(() => allocateAddress(ranged, new Set(), '10.2.0.1'), /no configured subnet or ip-range contain the IP address 10\.2\.0\.1/);
});

test("Docker's MAC for an address: 02:42 and the address's bytes", () => {
  assert.equal(macFromIpv4('172.17.0.2'), '02:42:ac:11:00:02');
});
