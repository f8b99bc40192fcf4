// Networks across a kill -9 of berthd, and --icc=false. After the kill, a restarted daemon
// keeps running containers' networking (namespaces, veths, published ports, rules), removes
// what no record claims (a namespace file, a veth on its bridge, an address a crash left
// allocated), re-creates a bridge that vanished, and its rules come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { freePort, sleep, useDaemon } from './harness.js';

const daemon = useDaemon({ extraArgs: ['--icc=false'] });

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/index.html', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function eventually<T>(action: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (attempt > 30) throw error;
      await sleep(100);
    }
  }
}

const ourRules = () => execFileSync('iptables-save', [], { encoding: 'utf8' }).split('\n').filter((line) => line.startsWith('-A') && line.includes(`BERTH-${daemon.bridge}`)).sort();

async function runWeb(name: string, flags: string[] = []): Promise<void> {
  await daemon.dockerOk(['run', '-d', '--name', name, '--expose', '80', ...flags, 'busybox', 'sh', '-c',
    `mkdir /www && echo hello from ${name} > /www/index.html && exec httpd -f -p 80 -h /www`]);
}

test('--icc=false: containers on the default bridge cannot talk, except over --link\'ed ports', async () => {
  await runWeb('i-web');
  await runWeb('i-other');
  try {
    const ip = JSON.parse(await daemon.dockerOk(['inspect', 'i-web']))[0].NetworkSettings.IPAddress as string;
    const unlinked = await daemon.docker(['run', '--rm', 'busybox', 'sh', '-c', `timeout 2 wget -q -O - http://${ip}/index.html`]);
    assert.notEqual(unlinked.code, 0, 'reached a container without a link');
    const linked = await daemon.dockerOk(['run', '--rm', '--link', 'i-web:web', 'busybox', 'sh', '-c', 'timeout 3 wget -q -O - http://web/index.html']);
    assert.equal(linked, 'hello from i-web\n');
    assert.ok(ourRules().some((line) => line.includes('-j DROP') && line.includes(`-i ${daemon.bridge} -o ${daemon.bridge}`)));
  } finally {
    await daemon.docker(['rm', '-f', 'i-web', 'i-other']);
  }
});

test('kill -9 of berthd: running containers keep their network; leftovers no record claims are removed; the bridge comes back', async () => {
  const port = await freePort();
  await daemon.dockerOk(['network', 'create', 'k-net']);
  await runWeb('k-web', ['-p', `${port}:80`]);
  await runWeb('k-user', ['--network', 'k-net']);
  assert.equal(await eventually(() => httpGet(port)), 'hello from k-web\n');
  const rulesBefore = ourRules();
  const userIp = JSON.parse(await daemon.dockerOk(['inspect', 'k-user']))[0].NetworkSettings.Networks['k-net'].IPAddress as string;
  await daemon.kill9();

  // What a crash in the middle of a start could leave: a namespace file, a veth on the bridge, an allocation in a record.
  const strayNetns = join(daemon.execRoot, 'netns', 'f'.repeat(64));
  writeFileSync(strayNetns, '');
  execFileSync('unshare', [`--net=${strayNetns}`, 'true']);
  execFileSync('ip', ['link', 'add', 'vethstray0', 'type', 'veth', 'peer', 'name', 'vethstray1']);
  execFileSync('ip', ['link', 'set', 'vethstray0', 'master', daemon.bridge]);
  const bridgeRecord = readdirSync(join(daemon.dataRoot, 'networks')).map((file) => join(daemon.dataRoot, 'networks', file))
    .find((path) => JSON.parse(readFileSync(path, 'utf8')).Name === 'bridge')!;
  const record = JSON.parse(readFileSync(bridgeRecord, 'utf8'));
  const leaked = { ...Object.values(record.endpoints)[0] as object, containerId: 'e'.repeat(64), ip: record.IPAM.Config[0].Gateway.replace(/\.1$/, '.250'), hostVeth: 'vethgone' };
  record.endpoints['e'.repeat(64)] = leaked;
  writeFileSync(bridgeRecord, JSON.stringify(record));
  // Rules flushed by someone else while the daemon was away: start-up loads them again.
  execFileSync('iptables', ['-w', '-t', 'nat', '-F', `BERTH-${daemon.bridge}`]);

  await daemon.start();
  assert.equal(await eventually(() => httpGet(port)), 'hello from k-web\n');
  assert.deepEqual(ourRules(), rulesBefore);
  assert.equal(existsSync(strayNetns), false, 'a namespace file no container claims survived');
  assert.equal(existsSync('/sys/class/net/vethstray0'), false, 'a veth no endpoint claims survived on the bridge');
  assert.equal(JSON.parse(readFileSync(bridgeRecord, 'utf8')).endpoints['e'.repeat(64)], undefined, 'a leaked allocation survived');
  const reached = await daemon.dockerOk(['run', '--rm', '--network', 'k-net', 'busybox', 'sh', '-c', `timeout 3 wget -q -O - http://${userIp}/index.html; timeout 3 wget -q -O - http://k-user/index.html`]);
  assert.equal(reached, 'hello from k-user\nhello from k-user\n');

  // A port the dead daemon held is held again: another container cannot take it.
  const taken = await daemon.docker(['run', '-d', '--name', 'k-thief', '-p', `${port}:80`, 'busybox', 'true']);
  assert.match(taken.stderr, /port is already allocated/);

  // A bridge deleted behind the daemon's back is made again at its next start.
  await daemon.dockerOk(['rm', '-f', 'k-web', 'k-user', 'k-thief']);
  await daemon.stop();
  execFileSync('ip', ['link', 'del', daemon.bridge]);
  await daemon.start();
  assert.equal(existsSync(`/sys/class/net/${daemon.bridge}`), true);
  assert.equal(await daemon.dockerOk(['run', '--rm', 'busybox', 'sh', '-c', 'ip route | grep -c default']), '1\n');
  await daemon.dockerOk(['network', 'rm', 'k-net']);
});
