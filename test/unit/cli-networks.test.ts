// The pure parts of the network client: create's IPAM grouping, ls rendering, prune output,
// run's network flags as EndpointsConfig (as the docker CLI sends them), and port display.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkResource } from '../../src/wire/network.js';
import { parseFlags } from '../../src/cli/flags.js';
import { goTimeString, networkIpamConfig, prunedNetworks, renderNetworkList, validateLink } from '../../src/cli/commands/networks.js';
import { buildCreateRequest, CONTAINER_FLAGS, CreateOptionsError, RUN_ONLY_FLAGS } from '../../src/cli/commands/run-options.js';
import { isMacAddress, parseNetworkFlag } from '../../src/cli/commands/network-options.js';
import { displayablePorts } from '../../src/cli/commands/ps-format.js';
import { filtersQuery } from '../../src/cli/commands/ps.js';

function network(name: string, id: string, fields: Partial<NetworkResource> = {}): NetworkResource {
  return {
    Name: name, Id: id, Created: '2024-01-01T10:00:00.120000000Z', Scope: 'local', Driver: 'bridge', EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [], Options: null }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {}, ...fields,
  };
}

function endpoints(argv: string[]) {
  const parsed = parseFlags(argv, [...CONTAINER_FLAGS, ...RUN_ONLY_FLAGS], { interspersed: false });
  return buildCreateRequest(parsed.flags, parsed.positional, { changed: parsed.changed }).request;
}

const EMPTY_ENDPOINT = {
  IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null,
  NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
};

test('network create groups subnets, ranges, gateways and aux addresses as the docker CLI does', () => {
  assert.deepEqual(
    networkIpamConfig({ subnets: ['10.5.0.0/16', '10.6.0.0/24'], ipRanges: ['10.5.1.0/24'], gateways: ['10.6.0.254', '10.5.0.1'], auxAddresses: { host: '10.5.0.7' } }),
    [
      { Subnet: '10.5.0.0/16', IPRange: '10.5.1.0/24', Gateway: '10.5.0.1', AuxiliaryAddresses: { host: '10.5.0.7' } },
      { Subnet: '10.6.0.0/24', Gateway: '10.6.0.254' },
    ],
  );
  assert.deepEqual(networkIpamConfig({ subnets: [], ipRanges: [], gateways: [], auxAddresses: {} }), []);
  const fails = (options: Partial<Parameters<typeof networkIpamConfig>[0]>, message: string) =>
    assert.throws(() => networkIpamConfig({ subnets: [], ipRanges: [], gateways: [], auxAddresses: {}, ...options }), { message });
  fails({ gateways: ['10.0.0.1'] }, 'every ip-range or gateway must have a corresponding subnet');
  fails({ subnets: ['10.0.0.0/8', '10.1.0.0/16'] }, 'multiple overlapping subnet configuration is not supported');
  fails({ subnets: ['10.0.0.0/24'], gateways: ['10.1.0.1'] }, 'no matching subnet for gateway 10.1.0.1');
  fails({ subnets: ['10.0.0.0/24'], ipRanges: ['10.9.0.0/28'] }, 'no matching subnet for range 10.9.0.0/28');
  fails({ subnets: ['10.0.0.0/24', '10.1.0.0/24'], ipRanges: ['10.0.0.0/28', '10.0.0.16/28'] }, 'cannot configure multiple ranges (10.0.0.16/28, 10.0.0.0/28) on the same subnet (10.0.0.0/24)');
  fails({ subnets: ['bogus'] , gateways: ['10.0.0.1'] }, 'invalid subnet: invalid CIDR address: bogus');
  assert.deepEqual(networkIpamConfig({ subnets: ['fd00:1::/64'], ipRanges: [], gateways: ['fd00:1::1'], auxAddresses: {} }), [{ Subnet: 'fd00:1::/64', Gateway: 'fd00:1::1' }]);
});

test('network ls: natural name order, truncated IDs, docker\'s columns, quiet, json and templates', () => {
  const networks = [
    network('net10', 'c'.repeat(64)), network('bridge', 'a'.repeat(64)), network('net9', 'b'.repeat(64), { Labels: { z: '1', a: '2' }, Internal: true }),
    network('host', 'd'.repeat(64), { Driver: 'host' }),
  ];
  assert.equal(
    renderNetworkList(networks, { format: '', quiet: false, trunc: true }),
    [
      'NETWORK ID     NAME      DRIVER    SCOPE',
      'aaaaaaaaaaaa   bridge    bridge    local',
      'dddddddddddd   host      host      local',
      'bbbbbbbbbbbb   net9      bridge    local',
      'cccccccccccc   net10     bridge    local',
      '',
    ].join('\n'),
  );
  assert.equal(renderNetworkList(networks.slice(0, 1), { format: '', quiet: true, trunc: false }), `${'c'.repeat(64)}\n`);
  assert.equal(renderNetworkList(networks, { format: '{{.Name}} {{.Labels}} {{.Internal}} {{.IPv4}} {{.IPv6}}', quiet: false, trunc: true }),
    'bridge  false false false\nhost  false false false\nnet9 a=2,z=1 true false false\nnet10  false false false\n');
  assert.equal(
    renderNetworkList(networks.slice(1, 2), { format: 'json', quiet: false, trunc: true, offsetMinutes: 0 }),
    '{"CreatedAt":"2024-01-01 10:00:00.12 +0000 UTC","Driver":"bridge","ID":"aaaaaaaaaaaa","IPv4":"false","IPv6":"false","Internal":"false","Labels":"","Name":"bridge","Scope":"local"}\n',
  );
  assert.equal(renderNetworkList(networks, { format: '{{.Label "z"}}|{{.Label "nope"}}', quiet: false, trunc: true }), '|\n|\n1|\n|\n', '{{.Label}} takes an argument, as docker\'s method does');
  assert.equal(renderNetworkList([], { format: '', quiet: false, trunc: true }), 'NETWORK ID   NAME      DRIVER    SCOPE\n');
  assert.equal(goTimeString('2024-01-01T10:00:00Z', 0), '2024-01-01 10:00:00 +0000 UTC');
});

test('network prune prints the deleted networks and an empty line, or nothing', () => {
  assert.equal(prunedNetworks(['a', 'b']), 'Deleted Networks:\na\nb\n\n');
  assert.equal(prunedNetworks([]), '');
  assert.equal(prunedNetworks(null), '');
});

test('network filters are sent as the API\'s JSON', () => {
  const filters = JSON.parse(filtersQuery(['driver=bridge', 'label=a=b', 'driver=host'])!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(filters).sort(), ['driver', 'label']);
  assert.match(JSON.stringify(filters.driver), /bridge.*host/);
  assert.throws(() => filtersQuery(['nonsense']), /bad format of filter/);
});

test('run without --network sends the "default" endpoint, as the docker CLI does', () => {
  const request = endpoints(['busybox']);
  assert.equal(request.HostConfig.NetworkMode, 'default');
  assert.deepEqual(request.NetworkingConfig, { EndpointsConfig: { default: EMPTY_ENDPOINT } });
  assert.equal(request.HostConfig.Links, null);
  assert.equal(request.MacAddress, undefined);
});

test('one --network without options sends no endpoint; --ip, --network-alias and --link go to its endpoint', () => {
  assert.deepEqual(endpoints(['--network', 'mynet', 'busybox']).NetworkingConfig, { EndpointsConfig: {} });
  const request = endpoints(['--network', 'mynet', '--ip', '10.1.0.5', '--network-alias', 'web', '--net-alias', 'www', '--link', 'other:o', 'busybox']);
  assert.equal(request.HostConfig.NetworkMode, 'mynet');
  assert.deepEqual(request.HostConfig.Links, ['other:o']);
  assert.deepEqual(request.NetworkingConfig.EndpointsConfig, {
    mynet: { ...EMPTY_ENDPOINT, IPAMConfig: { IPv4Address: '10.1.0.5' }, Links: ['other:o'], Aliases: ['web', 'www'] },
  });
});

test('--link on the default bridge is a legacy link only, and aliases there are refused', () => {
  const request = endpoints(['--network', 'bridge', '--link', 'other:o', 'busybox']);
  assert.deepEqual(request.HostConfig.Links, ['other:o']);
  assert.deepEqual(request.NetworkingConfig.EndpointsConfig, {});
  assert.throws(() => endpoints(['--network', 'bridge', '--network-alias', 'x', 'busybox']), { message: 'network-scoped aliases are only supported for user-defined networks' });
  assert.throws(() => endpoints(['--network-alias', 'x', 'busybox']), CreateOptionsError);
  assert.throws(() => endpoints(['--link', 'a:b:c', 'busybox']), { message: 'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c' });
});

test('--mac-address goes to Config.MacAddress (API 1.43), never into the endpoint', () => {
  const request = endpoints(['--network', 'mynet', '--mac-address', '02:42:ac:11:00:02', 'busybox']);
  assert.equal(request.MacAddress, '02:42:ac:11:00:02');
  assert.equal(request.NetworkingConfig.EndpointsConfig.mynet?.MacAddress, '');
  assert.equal(endpoints(['--mac-address', '02:42:ac:11:00:03', 'busybox']).MacAddress, '02:42:ac:11:00:03');
  assert.throws(() => endpoints(['--mac-address', 'zz', 'busybox']), { message: 'zz is not a valid mac address' });
  assert.ok(isMacAddress('02-42-AC-11-00-02') && isMacAddress('0242.ac11.0002') && !isMacAddress('02:42:ac:11:00') && !isMacAddress('02:42-ac:11:00:02'));
});

test('several --network values: each an endpoint; the long syntax; conflicts as the docker CLI words them', () => {
  const request = endpoints(['--network', 'a', '--network', 'name=b,alias=x,ip=10.2.0.9,driver-opt=k=v', 'busybox']);
  assert.equal(request.HostConfig.NetworkMode, 'a');
  assert.deepEqual(request.NetworkingConfig.EndpointsConfig, {
    a: EMPTY_ENDPOINT,
    b: { ...EMPTY_ENDPOINT, IPAMConfig: { IPv4Address: '10.2.0.9' }, Aliases: ['x'], DriverOpts: { k: 'v' } },
  });
  assert.deepEqual(parseNetworkFlag('name=MyNet'), parseNetworkFlag('mynet'), 'the long syntax is lower-cased, as docker\'s');
  assert.throws(() => endpoints(['--network', 'a', '--network', 'a', 'busybox']), { message: 'network "a" is specified multiple times' });
  assert.throws(() => endpoints(['--network', 'a', '--network', 'host', 'busybox']), { message: 'conflicting options: cannot attach both user-defined and non-user-defined network-modes' });
  assert.throws(() => endpoints(['--network', 'name=a,alias=x', '--network-alias', 'y', 'busybox']), { message: 'conflicting options: cannot specify both --network-alias and per-network alias' });
  assert.throws(() => endpoints(['--network', 'name=a,colour=blue', 'busybox']), { message: 'invalid argument "name=a,colour=blue" for "--network" flag: invalid field key colour' });
  assert.throws(() => endpoints(['--network', 'alias=x', 'busybox']), { message: 'invalid argument "alias=x" for "--network" flag: network name/id is not specified' });
  assert.equal(endpoints(['--net', 'host', 'busybox']).HostConfig.NetworkMode, 'host');
  assert.equal(endpoints(['--network', 'container:web', 'busybox']).HostConfig.NetworkMode, 'container:web');
});

test('network connect --link is validated like run --link', () => {
  assert.equal(validateLink('db:database'), 'db:database');
  assert.throws(() => validateLink('a:b:c'), /bad format for links: a:b:c/);
});

test('published port ranges are shown compacted, as docker ps shows them', () => {
  assert.equal(
    displayablePorts([
      { IP: '0.0.0.0', PrivatePort: 8001, PublicPort: 8001, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 8000, PublicPort: 8000, Type: 'tcp' },
      { IP: '::', PrivatePort: 8000, PublicPort: 8000, Type: 'tcp' },
      { IP: '::', PrivatePort: 8001, PublicPort: 8001, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 53, PublicPort: 32768, Type: 'udp' },
    ]),
    '0.0.0.0:8000-8001->8000-8001/tcp, [::]:8000-8001->8000-8001/tcp, 127.0.0.1:32768->53/udp',
  );
});
