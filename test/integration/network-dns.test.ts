// The embedded DNS server of a user network, end to end: a container's --dns servers answer
// that container's outside names (as Docker's resolver forwards them), and a renamed container
// answers to its new name at once. The "outside" server is the test's own, on the network's
// gateway address; nothing is asked of the host's resolvers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { useDaemon } from './harness.js';

const daemon = useDaemon();

/** A DNS server on `address` (UDP, a free port): `outside.test` is 192.0.2.7, every other name NXDOMAIN. */
async function fakeUpstream(address: string): Promise<{ port: number; asked: string[]; close(): void }> {
  const socket = createSocket('udp4');
  const asked: string[] = [];
  socket.on('message', (message, remote) => {
    const query = dnsPacket.decode(message);
    const name = query.questions?.[0]?.name ?? '';
    asked.push(name);
    const known = name === 'outside.test' && query.questions?.[0]?.type === 'A';
    socket.send(dnsPacket.encode({
      type: 'response', id: query.id, flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: query.questions,
      answers: known ? [{ type: 'A', name, ttl: 5, data: '192.0.2.7' }] : [],
    }), remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return { port: (socket.address() as AddressInfo).port, asked, close: () => socket.close() };
}

test('user network: a container\'s --dns servers answer its outside names; a renamed container answers to its new name at once', async () => {
  const network = JSON.parse(await daemon.dockerOk(['network', 'inspect', (await daemon.dockerOk(['network', 'create', 'd-net'])).trim()]))[0];
  const gateway = network.IPAM.Config[0].Gateway as string;
  const upstream = await fakeUpstream(gateway);
  try {
    // ip:port is the API's (the docker CLI takes an address alone, port 53, where the embedded server is).
    const created = await daemon.api('POST', '/containers/create?name=d-client', {
      Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'd-net', Dns: [`${gateway}:${upstream.port}`] },
    });
    assert.equal(created.status, 201, created.body);
    await daemon.dockerOk(['start', 'd-client']);
    await daemon.dockerOk(['run', '-d', '--name', 'd-web', '--network', 'd-net', 'busybox', 'sleep', '300']);
    const webIp = JSON.parse(await daemon.dockerOk(['inspect', 'd-web']))[0].NetworkSettings.Networks['d-net'].IPAddress as string;

    const outside = await daemon.docker(['exec', 'd-client', 'nslookup', 'outside.test']);
    assert.match(outside.stdout, /192\.0\.2\.7/, JSON.stringify(outside));
    assert.ok(upstream.asked.includes('outside.test'), 'the container\'s own server was asked');
    assert.match(await daemon.dockerOk(['exec', 'd-client', 'cat', '/etc/resolv.conf']), new RegExp(`^nameserver ${gateway.replace(/\./g, '\\.')}$`, 'm'));

    assert.match((await daemon.docker(['exec', 'd-client', 'nslookup', 'd-web'])).stdout, new RegExp(webIp.replace(/\./g, '\\.')));
    await daemon.dockerOk(['rename', 'd-web', 'd-site']);
    const renamed = await daemon.docker(['exec', 'd-client', 'nslookup', 'd-site']);
    assert.match(renamed.stdout, new RegExp(webIp.replace(/\./g, '\\.')), JSON.stringify(renamed));
    const old = await daemon.docker(['exec', 'd-client', 'nslookup', 'd-web']);
    assert.doesNotMatch(old.stdout, new RegExp(webIp.replace(/\./g, '\\.')), 'the old name still answers');
    const settings = JSON.parse(await daemon.dockerOk(['network', 'inspect', 'd-net']))[0].Containers;
    assert.ok(Object.values(settings).some((entry) => (entry as { Name: string }).Name === 'd-site'), JSON.stringify(settings));
  } finally {
    upstream.close();
    await daemon.docker(['rm', '-f', 'd-client', 'd-web', 'd-site']);
    await daemon.docker(['network', 'rm', 'd-net']);
  }
});
