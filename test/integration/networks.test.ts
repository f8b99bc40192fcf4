// Networks end to end, through the docker CLI and the API: the default bridge (addresses,
// outbound traffic to a server on the gateway, published TCP and UDP ports on 127.0.0.1 and on
// the bridge, -P, links), user networks (isolation, --internal, live connect and disconnect),
// the host/none/container: modes, port conflicts, and that rm and network rm leave no
// interface, namespace file or rule behind. Traffic goes only to 127.0.0.1, this daemon's
// bridges and its containers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, sleep, useDaemon } from './harness.js';

const daemon = useDaemon();

/** A web server in a container: busybox httpd serving "hello from <name>". */
async function runWeb(name: string, flags: string[] = []): Promise<string> {
  return (await daemon.dockerOk(['run', '-d', '--name', name, '--expose', '80', ...flags, 'busybox', 'sh', '-c',
    `mkdir /www && echo hello from ${name} > /www/index.html && exec httpd -f -p 80 -h /www`])).trim();
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path: '/index.html', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout reaching ${host}:${port}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Retries while the server in the container comes up. */
async function httpGetEventually(host: string, port: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await httpGet(host, port);
    } catch (error) {
      if (attempt > 30) throw error;
      await sleep(100);
    }
  }
}

async function inspect(name: string): Promise<any> {
  return JSON.parse(await daemon.dockerOk(['inspect', name]))[0];
}

async function ipOf(name: string, network = 'bridge'): Promise<string> {
  return (await inspect(name)).NetworkSettings.Networks[network].IPAddress as string;
}

/** In a container: `wget` with a deadline, exit status 0 when it got the page. */
async function fetchFrom(container: string, url: string, seconds = 2): Promise<{ code: number; stdout: string }> {
  return daemon.docker(['exec', container, 'sh', '-c', `timeout ${seconds} wget -q -O - ${url}`]);
}

/** What this daemon has on the host: its bridges and the veths plugged into them, its rules, its namespace files (other daemons run beside it). */
function hostState(): { links: string; rules: string; netns: string[] } {
  const links = daemon.bridges().filter((bridge) => existsSync(`/sys/class/net/${bridge}`))
    .flatMap((bridge) => [bridge, ...readdirSync(`/sys/class/net/${bridge}/brif`)]).sort().join(' ');
  const rules = execFileSync('iptables-save', [], { encoding: 'utf8' }).split('\n').filter((line) => line.includes(`BERTH-${daemon.bridge}`) && line.startsWith('-A')).sort().join('\n');
  const netnsDir = join(daemon.execRoot, 'netns');
  return { links, rules, netns: existsSync(netnsDir) ? readdirSync(netnsDir) : [] };
}

test('default bridge: an address from the bridge subnet, the gateway as default route, container to container, outbound to the host', async () => {
  const server = createServer((_, res) => res.end('from the host'));
  await new Promise<void>((resolve) => server.listen(0, daemon.gateway, resolve));
  try {
    await runWeb('b-web');
    const ip = await ipOf('b-web');
    const settings = (await inspect('b-web')).NetworkSettings;
    assert.equal(settings.IPAddress, ip);
    assert.equal(settings.Gateway, daemon.gateway);
    assert.equal(settings.MacAddress, `02:42:${ip.split('.').map((byte) => Number(byte).toString(16).padStart(2, '0')).join(':')}`);
    assert.ok(ip.startsWith(daemon.gateway.slice(0, daemon.gateway.lastIndexOf('.'))), ip);
    assert.match(settings.SandboxKey, /netns/);
    const output = await daemon.dockerOk(['run', '--rm', 'busybox', 'sh', '-c', `ip route; timeout 3 wget -q -O - http://${ip}/index.html; timeout 3 wget -q -O - http://${daemon.gateway}:${(server.address() as AddressInfo).port}/`]);
    assert.match(output, new RegExp(`default via ${daemon.gateway.replace(/\./g, '\\.')}`));
    assert.match(output, /hello from b-web/);
    assert.match(output, /from the host/);
  } finally {
    server.close();
    await daemon.docker(['rm', '-f', 'b-web']);
  }
});

test('published ports: TCP and UDP on 127.0.0.1 and on the bridge; -P picks ephemeral ports; port, ps and inspect show them', async () => {
  const [tcpPort, udpPort] = [await freePort(), await freePort()];
  await runWeb('p-web', ['-p', `${tcpPort}:80`, '-p', `127.0.0.1:${udpPort}:7/udp`, '-P', '--expose', '81',
    '-v', '/usr:/usr:ro', '-v', '/lib:/lib:ro', '-v', '/lib64:/lib64:ro']);
  try {
    // A UDP echo server beside httpd (busybox has none: the host's python3, mounted read-only).
    await daemon.dockerOk(['exec', '-d', 'p-web', '/usr/bin/python3', '-c',
      'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("0.0.0.0",7))\nwhile True:\n d,a=s.recvfrom(100)\n s.sendto(b"echo:"+d,a)']);
    assert.equal(await httpGetEventually('127.0.0.1', tcpPort), 'hello from p-web\n');
    assert.equal(await httpGet(daemon.gateway, tcpPort), 'hello from p-web\n');
    const reply = await udpExchange('127.0.0.1', udpPort, 'ping');
    assert.equal(reply, 'echo:ping');
    const ports = (await inspect('p-web')).NetworkSettings.Ports;
    assert.deepEqual(ports[`80/tcp`], [{ HostIp: '0.0.0.0', HostPort: String(tcpPort) }]);
    assert.deepEqual(ports['7/udp'], [{ HostIp: '127.0.0.1', HostPort: String(udpPort) }]);
    const ephemeral = Number(ports['81/tcp'][0].HostPort);
    const [low, high] = execFileSync('cat', ['/proc/sys/net/ipv4/ip_local_port_range'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    assert.ok(ephemeral >= low! && ephemeral <= high!, `${ephemeral} in ${low}-${high}`);
    assert.match(await daemon.dockerOk(['port', 'p-web', '80']), new RegExp(`0\\.0\\.0\\.0:${tcpPort}`));
    assert.match(await daemon.dockerOk(['ps', '--format', '{{.Ports}}', '--filter', 'name=p-web']), new RegExp(`0\\.0\\.0\\.0:${tcpPort}->80/tcp`));
    assert.deepEqual((await inspect('p-web')).HostConfig.PortBindings['80/tcp'], [{ HostIp: '', HostPort: String(tcpPort) }]);
  } finally {
    await daemon.docker(['rm', '-f', 'p-web']);
  }
});

function udpExchange(host: string, port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    let attempts = 0;
    const timer = setInterval(() => {
      if (++attempts > 30) {
        clearInterval(timer);
        socket.close();
        reject(new Error('no UDP reply'));
      } else socket.send(message, port, host);
    }, 100);
    socket.on('message', (data) => {
      clearInterval(timer);
      socket.close();
      resolve(data.toString());
    });
    socket.send(message, port, host);
  });
}

test('port conflicts: with another container and with a host process, Docker\'s words, nothing left behind', async () => {
  const port = await freePort();
  await runWeb('c-first', ['-p', `${port}:80`]);
  const before = hostState();
  try {
    const taken = await daemon.docker(['run', '-d', '--name', 'c-second', '-p', `${port}:80`, 'busybox', 'sleep', '30']);
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, new RegExp(`driver failed programming external connectivity on endpoint c-second \\([0-9a-f]+\\): Bind for 0\\.0\\.0\\.0:${port} failed: port is already allocated`));
    const hostPort = await freePort();
    const hostServer = createTcpServer().listen(hostPort, '0.0.0.0');
    await new Promise((resolve) => hostServer.once('listening', resolve));
    try {
      const busy = await daemon.docker(['run', '-d', '--name', 'c-third', '-p', `${hostPort}:80`, 'busybox', 'sleep', '30']);
      assert.notEqual(busy.code, 0);
      assert.match(busy.stderr, new RegExp(`failed to bind host port for 0\\.0\\.0\\.0:${hostPort}:[0-9.]+:80/tcp: address already in use`));
    } finally {
      hostServer.close();
    }
    assert.deepEqual(hostState(), before, 'a failed start left an interface, a namespace or a rule');
    assert.equal((await inspect('c-second')).State.Running, false);
  } finally {
    await daemon.docker(['rm', '-f', 'c-first', 'c-second', 'c-third']);
  }
});

test('links on the default bridge: environment variables and /etc/hosts as Docker writes them', async () => {
  await runWeb('l-web', ['-e', 'SECRET=42']);
  try {
    const ip = await ipOf('l-web');
    const output = await daemon.dockerOk(['run', '--rm', '--name', 'l-client', '--link', 'l-web:www', 'busybox', 'sh', '-c', 'env; cat /etc/hosts; timeout 3 wget -q -O - http://www/index.html']);
    for (const line of [`WWW_PORT=tcp://${ip}:80`, `WWW_PORT_80_TCP_ADDR=${ip}`, 'WWW_PORT_80_TCP_PORT=80', 'WWW_PORT_80_TCP_PROTO=tcp', 'WWW_NAME=/l-client/www', 'WWW_ENV_SECRET=42']) {
      assert.ok(output.split('\n').includes(line), `missing ${line} in\n${output}`);
    }
    const hostname = (await inspect('l-web')).Config.Hostname as string;
    assert.ok(output.includes(`${ip}\twww ${hostname} l-web`), output);
    assert.match(output, /hello from l-web/);
  } finally {
    await daemon.docker(['rm', '-f', 'l-web']);
  }
});

test('user networks: isolation between two, --internal has no way out, live connect and disconnect, inspect and ls', async () => {
  await daemon.dockerOk(['network', 'create', '--label', 'purpose=test', 'u-one']);
  await daemon.dockerOk(['network', 'create', '--subnet', '10.199.77.0/24', '--ip-range', '10.199.77.128/25', 'u-two']);
  await daemon.dockerOk(['network', 'create', '--internal', 'u-inner']);
  const server = createServer((_, res) => res.end('outside'));
  await new Promise<void>((resolve) => server.listen(0, daemon.gateway, resolve));
  try {
    await runWeb('u-web1', ['--network', 'u-one', '--network-alias', 'webalias']);
    await runWeb('u-web2', ['--network', 'u-two', '--ip', '10.199.77.200']);
    await daemon.dockerOk(['run', '-d', '--name', 'u-client', '--network', 'u-one', 'busybox', 'sleep', '300']);
    await daemon.dockerOk(['run', '-d', '--name', 'u-inside', '--network', 'u-inner', 'busybox', 'sleep', '300']);
    const ip1 = await ipOf('u-web1', 'u-one');
    assert.equal(await ipOf('u-web2', 'u-two'), '10.199.77.200');
    assert.equal((await fetchFrom('u-client', `http://${ip1}/index.html`)).stdout, 'hello from u-web1\n');
    assert.notEqual((await fetchFrom('u-client', 'http://10.199.77.200/index.html')).code, 0, 'u-one reached u-two');
    // By name through the network's embedded DNS server: container name, alias, name.network.
    const gatewayOne = (await inspect('u-client')).NetworkSettings.Networks['u-one'].Gateway as string;
    assert.match(await daemon.dockerOk(['exec', 'u-client', 'cat', '/etc/resolv.conf']), new RegExp(`^nameserver ${gatewayOne.replace(/\./g, '\\.')}$`, 'm'));
    for (const name of ['u-web1', 'webalias', 'u-web1.u-one']) {
      assert.equal((await fetchFrom('u-client', `http://${name}/index.html`)).stdout, 'hello from u-web1\n', name);
    }
    // --internal: no default route, no way to the host's other networks.
    assert.notEqual((await fetchFrom('u-inside', `http://${daemon.gateway}:${(server.address() as AddressInfo).port}/`)).code, 0);
    assert.doesNotMatch(await daemon.dockerOk(['exec', 'u-inside', 'ip', 'route']), /default/);

    await daemon.dockerOk(['network', 'connect', '--ip', '10.199.77.150', 'u-two', 'u-client']);
    assert.equal((await fetchFrom('u-client', 'http://10.199.77.200/index.html')).stdout, 'hello from u-web2\n');
    assert.match(await daemon.dockerOk(['exec', 'u-client', 'ip', 'addr']), /eth1[\s\S]*10\.199\.77\.150/);
    const two = JSON.parse(await daemon.dockerOk(['network', 'inspect', 'u-two']))[0];
    assert.equal(Object.keys(two.Containers).length, 2);
    assert.deepEqual(two.IPAM.Config, [{ Subnet: '10.199.77.0/24', Gateway: '10.199.77.1', IPRange: '10.199.77.128/25' }]);
    const removing = await daemon.docker(['network', 'rm', 'u-two']);
    assert.match(removing.stderr, new RegExp(`error while removing network: network u-two id ${two.Id} has active endpoints`));
    await daemon.dockerOk(['network', 'disconnect', 'u-two', 'u-client']);
    assert.doesNotMatch(await daemon.dockerOk(['exec', 'u-client', 'ip', 'addr']), /eth1/);
    assert.notEqual((await fetchFrom('u-client', 'http://10.199.77.200/index.html')).code, 0);

    // Connect and disconnect a stopped container: recorded, live at its next start.
    await daemon.dockerOk(['create', '--name', 'u-stopped', 'busybox', 'ip', 'addr']);
    await daemon.dockerOk(['network', 'connect', 'u-one', 'u-stopped']);
    await daemon.dockerOk(['start', '-a', 'u-stopped']).then((output) => assert.match(output, /eth1/));
    await daemon.dockerOk(['network', 'disconnect', 'u-one', 'u-stopped']);

    assert.match(await daemon.dockerOk(['network', 'ls', '--filter', 'label=purpose=test', '--format', '{{.Name}}']), /^u-one\n$/);
    assert.match(await daemon.dockerOk(['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}']), /^bridge\nhost\nnone\n$/);
    assert.equal((await inspect('u-web1')).NetworkSettings.Networks['u-one'].Aliases.includes('webalias'), true);
  } finally {
    server.close();
    await daemon.docker(['rm', '-f', 'u-web1', 'u-web2', 'u-client', 'u-inside', 'u-stopped']);
    for (const name of ['u-one', 'u-two', 'u-inner']) await daemon.docker(['network', 'rm', name]);
  }
});

test('host, none and container: modes', async () => {
  const hostLinks = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').length;
  const inHost = await daemon.dockerOk(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']);
  assert.ok(Math.abs(inHost.split('\n').length - hostLinks) <= 2, inHost);
  const inNone = await daemon.dockerOk(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
  assert.deepEqual(inNone.trim().split('\n').map((line) => line.split(':')[1]!.trim()), ['lo']);
  await runWeb('m-web');
  try {
    const shared = await daemon.dockerOk(['run', '--rm', '--network', 'container:m-web', 'busybox', 'sh', '-c', 'timeout 3 wget -q -O - http://127.0.0.1/index.html']);
    assert.equal(shared, 'hello from m-web\n');
  } finally {
    await daemon.docker(['rm', '-f', 'm-web']);
  }
});

test('rm and network rm leave no interface, namespace file or rule behind; network events', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const before = hostState();
  const network = JSON.parse(await daemon.dockerOk(['network', 'inspect', (await daemon.dockerOk(['network', 'create', 'r-net'])).trim()]))[0];
  await runWeb('r-one', ['-p', `${await freePort()}:80`]);
  await runWeb('r-two', ['--network', 'r-net']);
  await daemon.dockerOk(['network', 'connect', 'r-net', 'r-one']);
  const during = hostState();
  assert.notDeepEqual(during, before);
  assert.ok(during.links.includes(`br-${network.Id.slice(0, 12)}`));
  await daemon.dockerOk(['rm', '-f', 'r-one', 'r-two']);
  await daemon.dockerOk(['network', 'rm', 'r-net']);
  assert.deepEqual(hostState(), before);
  assert.equal(existsSync(`/sys/class/net/br-${network.Id.slice(0, 12)}`), false, 'the network\'s bridge is still there');
  const events = await daemon.dockerOk(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1),
    '--filter', 'type=network', '--filter', 'network=r-net', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}']);
  assert.deepEqual(events.trim().split('\n').filter((line) => !line.startsWith('disconnect')),
    ['create r-net bridge', 'connect r-net bridge', 'connect r-net bridge', 'destroy r-net bridge']);
  const prunable = (await daemon.dockerOk(['network', 'create', 'r-prune'])).trim();
  assert.match(await daemon.dockerOk(['network', 'prune', '-f']), /r-prune/);
  assert.equal((await daemon.api('GET', `/networks/${prunable}`)).status, 404);
});
