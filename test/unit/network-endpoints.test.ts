// Endpoints, pure: a new endpoint's DNS names and upstreams, a rename, what the embedded DNS
// server's records answer for them; the bridge's index read from `ip link show`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLinkIndex } from '../../src/network/bridge.js';
import { newEndpoint, renamedEndpoint } from '../../src/network/endpoints.js';
import { predefinedNetwork } from '../../src/network/default-bridge.js';
import type { NetworkContainer } from '../../src/network/service.js';
import { dnsLookup } from '../../src/network/views.js';

function userNetwork(name: string, subnet: string) {
  const network = predefinedNetwork(name, 'bridge');
  network.IPAM.Config = [{ Subnet: subnet, Gateway: subnet.replace(/0\/24$/, '1') }];
  network.bridge = `br-${name}`;
  return network;
}

const container = (id: string, name: string, dns?: string[]): NetworkContainer => ({
  id: id.padEnd(64, '0'), name, running: true, hostname: '', domainname: '', env: [], networkMode: name, networks: {}, links: [],
  portBindings: null, publishAll: false, exposedPorts: null, dns,
});

test('on a user network a container answers to its name, aliases and short ID, and asks its own --dns servers', () => {
  const network = userNetwork('u', '10.77.0.0/24');
  const web = newEndpoint(network, container('a1', 'web', ['192.0.2.53']), { Aliases: ['www'] }, 'eth0', true);
  network.endpoints[web.containerId] = web;
  const client = newEndpoint(network, container('b2', 'client'), {}, 'eth0', true);
  network.endpoints[client.containerId] = client;
  assert.deepEqual(web.dnsNames, ['web', 'www', web.containerId.slice(0, 12)]);
  const lookup = dnsLookup(() => [network]);
  assert.deepEqual(lookup.lookupA(client.ip, 'web'), [web.ip]);
  assert.deepEqual(lookup.upstreamsFor(web.ip), ['192.0.2.53']);
  assert.equal(lookup.upstreamsFor(client.ip), undefined, 'no --dns: the server\'s own upstreams');

  network.endpoints[web.containerId] = renamedEndpoint(web, 'site');
  assert.equal(lookup.lookupA(client.ip, 'web'), undefined, 'the old name is gone at once');
  assert.deepEqual(lookup.lookupA(client.ip, 'site'), [web.ip]);
  assert.deepEqual(lookup.lookupA(client.ip, 'www'), [web.ip]);
  assert.equal(lookup.lookupPtr(client.ip, web.ip), 'site.u');
});

test('on the default bridge an endpoint has no DNS names, and a rename keeps it so', () => {
  const bridge = predefinedNetwork('bridge', 'bridge');
  bridge.Options = { 'com.docker.network.bridge.default_bridge': 'true' };
  bridge.IPAM.Config = [{ Subnet: '10.78.0.0/24', Gateway: '10.78.0.1' }];
  const endpoint = newEndpoint(bridge, container('c3', 'old', ['192.0.2.53']), {}, 'eth0', true);
  assert.deepEqual(endpoint.dnsNames, []);
  assert.equal(endpoint.upstreams, undefined);
  const renamed = renamedEndpoint(endpoint, 'new');
  assert.equal(renamed.containerName, 'new');
  assert.deepEqual(renamed.dnsNames, []);
});

test('the interface index of a device in `ip link show` output', () => {
  const output = '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n    link/loopback 00:00:00:00:00:00\n12: br-0a1b.2: <BROADCAST> mtu 1500\n13: vethab@if2: <UP> mtu 1500\n';
  assert.equal(parseLinkIndex(output, 'br-0a1b.2'), 12);
  assert.equal(parseLinkIndex(output, 'vethab'), 13);
  assert.equal(parseLinkIndex(output, 'br-0a1b'), undefined);
  assert.equal(parseLinkIndex(output, 'eth0'), undefined);
});
