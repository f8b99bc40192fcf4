// berth's network commands, port and the PORTS column, side by side with the docker CLI (28)
// on the same berthd: the same requests must print the same output, the same errors and exit
// with the same status.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useDaemon, type TestDaemon } from './harness.js';

const daemon = useDaemon();

type Cli = 'berth' | 'docker';
const run = (daemonUnderTest: TestDaemon, cli: Cli, args: string[], input?: string) =>
  cli === 'berth' ? daemonUnderTest.berth(args, { input }) : daemonUnderTest.docker(args, { input });

/** Runs the same arguments with both CLIs; asserts equal stdout, stderr (with the binary's name swapped) and status. */
async function same(args: string[], options: { input?: string } = {}): Promise<{ stdout: string; code: number }> {
  const docker = await run(daemon, 'docker', args, options.input);
  const berth = await run(daemon, 'berth', args, options.input);
  assert.equal(berth.stdout, docker.stdout, `stdout of ${args.join(' ')}`);
  assert.equal(berth.stderr.replaceAll('berth', 'docker'), docker.stderr, `stderr of ${args.join(' ')}`);
  assert.equal(berth.code, docker.code, `status of ${args.join(' ')}`);
  return docker;
}

/** "10.x.y.0/20" → the /24 `index` /24s into it. */
function poolSubnet(index: number): string {
  const [a, b, c] = daemon.addressPool.split('/')[0]!.split('.').map(Number) as [number, number, number];
  return `${a}.${b}.${c + index}.0/24`;
}

test('network create, ls (table, quiet, no-trunc, format, json, filter) and inspect print what docker prints', async () => {
  const subnet = poolSubnet(12);
  const gateway = subnet.replace(/0\/24$/, '254');
  const created = await daemon.berthOk(['network', 'create', '--subnet', subnet, '--gateway', gateway, '--label', 'tier=front', '-o', 'com.docker.network.bridge.enable_icc=true', 'clinet-a']);
  assert.match(created, /^[0-9a-f]{64}\n$/);
  await daemon.dockerOk(['network', 'create', '--internal', 'clinet-b']);
  try {
    await same(['network', 'ls']);
    await same(['network', 'ls', '-q']);
    await same(['network', 'ls', '--no-trunc']);
    await same(['network', 'list', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Labels}} {{.Label "tier"}}']);
    await same(['network', 'ls', '--format', 'json']);
    await same(['network', 'ls', '--format', 'table {{.Name}}\t{{.IPv6}}\t{{.CreatedAt}}']);
    await same(['network', 'ls', '--filter', 'label=tier=front', '-q']);
    await same(['network', 'ls', '-f', 'driver=bridge', '--format', '{{.Name}}']);
    await same(['network', 'ls', '-f', 'bogus']);
    await same(['network', 'inspect', 'clinet-a']);
    await same(['network', 'inspect', '-f', '{{.Name}} {{json .IPAM.Config}} {{.Internal}}', 'clinet-a', 'clinet-b']);
    await same(['network', 'inspect', 'clinet-a', 'nope']);
    await same(['inspect', 'clinet-b']);
    await same(['inspect', '--type', 'network', 'clinet-b']);
    await same(['inspect', '--type', 'network', 'nope']);
    await same(['network', 'create', 'clinet-a']);
    await same(['network', 'create', '--gateway', '10.0.0.1', 'x']);
    await same(['network', 'create', '--subnet', '10.9.0.0/16', '--ip-range', '10.8.0.0/24', 'x']);
    await same(['network', 'create']);
  } finally {
    await daemon.berth(['network', 'rm', 'clinet-a', 'clinet-b']);
  }
});

test('network rm of several names, -f, and prune print and exit as docker does', async () => {
  for (const cli of ['docker', 'berth'] as const) {
    await daemon.dockerOk(['network', 'create', `rm-${cli}-1`]);
    await daemon.dockerOk(['network', 'create', `rm-${cli}-2`]);
  }
  const docker = await run(daemon, 'docker', ['network', 'rm', 'rm-docker-1', 'nope', 'rm-docker-2']);
  const berth = await run(daemon, 'berth', ['network', 'rm', 'rm-berth-1', 'nope', 'rm-berth-2']);
  assert.equal(berth.stdout.replaceAll('berth', 'docker'), docker.stdout);
  assert.equal(berth.stderr, docker.stderr);
  assert.equal(docker.code, 1);
  assert.equal(berth.code, docker.code);
  await same(['network', 'rm', '-f', 'nope']);
  await same(['network', 'remove', 'bridge']);

  await daemon.dockerOk(['network', 'create', 'prune-docker']);
  const dockerPrune = await run(daemon, 'docker', ['network', 'prune', '-f']);
  await daemon.dockerOk(['network', 'create', 'prune-berth']);
  const berthPrune = await run(daemon, 'berth', ['network', 'prune', '-f']);
  assert.equal(dockerPrune.stdout, 'Deleted Networks:\nprune-docker\n\n');
  assert.equal(berthPrune.stdout, 'Deleted Networks:\nprune-berth\n\n');
  await same(['network', 'prune', '-f']);
  await same(['network', 'prune'], { input: 'n\n' });
  await same(['network', 'prune', '--filter', 'nonsense']);
});

test('network connect and disconnect (--alias, --ip, -f) and their errors, as docker', async () => {
  const subnet = poolSubnet(13);
  const address = subnet.replace(/0\/24$/, '77');
  await daemon.berthOk(['network', 'create', '--subnet', subnet, 'conn-net']);
  await daemon.berthOk(['run', '-d', '--name', 'conn-ctr', 'busybox', 'sleep', '300']);
  try {
    const connected = await daemon.berth(['network', 'connect', '--alias', 'web', '--alias', 'www', '--ip', address, 'conn-net', 'conn-ctr']);
    assert.equal(connected.code, 0, connected.stderr);
    assert.equal(connected.stdout, '');
    const endpoint = (await daemon.api('GET', '/containers/conn-ctr/json')).json().NetworkSettings.Networks['conn-net'];
    assert.equal(endpoint.IPAddress, address);
    assert.ok(['web', 'www'].every((alias) => (endpoint.Aliases as string[]).includes(alias)), JSON.stringify(endpoint.Aliases));
    await same(['network', 'connect', 'conn-net', 'conn-ctr']);
    await same(['network', 'connect', 'nope', 'conn-ctr']);
    await same(['network', 'connect', 'conn-net', 'nope']);
    await same(['network', 'connect', 'conn-net']);
    const disconnected = await daemon.berth(['network', 'disconnect', '-f', 'conn-net', 'conn-ctr']);
    assert.equal(disconnected.code, 0, disconnected.stderr);
    assert.equal((await daemon.api('GET', '/containers/conn-ctr/json')).json().NetworkSettings.Networks['conn-net'], undefined);
    await same(['network', 'disconnect', 'conn-net', 'conn-ctr']);
  } finally {
    await daemon.berth(['rm', '-f', 'conn-ctr']);
    await daemon.berth(['network', 'rm', 'conn-net']);
  }
});

test('port and the PORTS column of ps show published ports as docker does', async () => {
  await daemon.berthOk(['run', '-d', '--name', 'ports-ctr', '-p', '127.0.0.1::80', '-p', '127.0.0.1::5353/udp', '--expose', '7000-7001', 'busybox', 'sleep', '300']);
  try {
    await same(['port', 'ports-ctr']);
    await same(['port', 'ports-ctr', '80']);
    await same(['port', 'ports-ctr', '5353/udp']);
    await same(['port', 'ports-ctr', '81']);
    await same(['container', 'port', 'ports-ctr', 'abc']);
    await same(['ps', '--filter', 'name=ports-ctr', '--format', '{{.Ports}}']);
    // The PORTS column in a table (without the times, whose widths change from one second to the next).
    await same(['ps', '--filter', 'name=ports-ctr', '--format', 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Names}}']);
  } finally {
    await daemon.berth(['rm', '-f', 'ports-ctr']);
  }
});

test('run/create network and publish flags: the docker CLI\'s errors, word for word', async () => {
  const bad = [
    ['-p', '70000:80'], ['-p', '1.2.3:80:80'], ['-p', '8000-8001:80-82'], ['-p', '127.0.0.1::80/xyz'], ['-p', '[::1:80:80'],
    ['-p', 'target=80,published=8080,bogus'], ['--network', 'name=a,colour=blue'], ['--network', 'alias=x'], ['--link', 'a:b:c'],
    ['--network', 'a', '--network', 'a'], ['--network', 'a', '--network', 'host'], ['--network-alias', 'x'],
    ['--network', 'bridge', '--network-alias', 'x'], ['--mac-address', '02:42'], ['--network', 'name=a,driver-opt=x'],
  ];
  for (const flags of bad) await same(['create', ...flags, 'busybox']);
});

test('run --network, --ip, --network-alias, --link reach the endpoint as docker\'s do; --mac-address goes through Config (API 1.43)', async () => {
  const subnet = poolSubnet(14);
  const address = (last: number) => subnet.replace(/0\/24$/, String(last));
  await daemon.berthOk(['network', 'create', '--subnet', subnet, 'runflags-net']);
  try {
    const endpointOf = async (name: string) => {
      const inspect = (await daemon.api('GET', `/containers/${name}/json`)).json();
      const endpoint = inspect.NetworkSettings.Networks['runflags-net'];
      return { mode: inspect.HostConfig.NetworkMode, links: inspect.HostConfig.Links, ipam: endpoint?.IPAMConfig, aliases: endpoint?.Aliases, endpointLinks: endpoint?.Links };
    };
    // The linked container exists: a create the daemon answers 404 makes the docker CLI try to pull the image.
    await daemon.berthOk(['create', '--name', 'runflags-other', '--network', 'runflags-net', 'busybox', 'sleep', '300']);
    for (const [cli, last] of [['docker', 10], ['berth', 11]] as const) {
      const created = await run(daemon, cli, ['create', '--pull', 'never', '--name', `runflags-${cli}`, '--network', 'runflags-net', '--ip', address(last), '--network-alias', 'web', '--link', 'runflags-other:o', 'busybox', 'sleep', '300']);
      assert.equal(created.code, 0, created.stderr);
    }
    const docker = await endpointOf('runflags-docker');
    const berth = await endpointOf('runflags-berth');
    assert.deepEqual(docker.ipam, { IPv4Address: address(10) });
    assert.deepEqual(berth, { ...docker, ipam: { IPv4Address: address(11) } });

    await daemon.berthOk(['run', '-d', '--name', 'runflags-mac', '--network', 'runflags-net', '--mac-address', '02:42:ac:11:00:99', 'busybox', 'sleep', '300']);
    const mac = (await daemon.api('GET', '/containers/runflags-mac/json')).json().NetworkSettings.Networks['runflags-net'].MacAddress;
    assert.equal(mac, '02:42:ac:11:00:99');
  } finally {
    await daemon.berth(['rm', '-f', 'runflags-docker', 'runflags-berth', 'runflags-mac', 'runflags-other']);
    await daemon.berth(['network', 'rm', 'runflags-net']);
  }
});
