// --userns-remap: a daemon of its own remaps root to the dockremap user's subordinate range
// (creating that user and its ranges as dockerd does for "default"); storage lives under
// <data-root>/<uid>.<gid> owned by the remapped IDs; root in a container is not root on the
// host; --userns=host opts a container out. A user without a range stops the daemon at start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, BERTHD, TestDaemon, childEnv } from './harness.js';

const daemon = new TestDaemon(['--userns-remap', 'default']);
const dockremapExisted = spawnSync('id', ['dockremap']).status === 0;
let range = { start: 0, count: 0 };

before(async () => {
  // The remapped root must be able to reach the data root, as dockerd demands (o+x on the way).
  chmodSync(daemon.root, 0o711);
  await daemon.start();
  await daemon.importBusybox();
  const line = readFileSync('/etc/subuid', 'utf8').split('\n').find((entry) => entry.startsWith('dockremap:'));
  assert.ok(line, 'dockremap has a subuid range');
  range = { start: Number(line.split(':')[1]), count: Number(line.split(':')[2]) };
});

after(async () => {
  await daemon.cleanup();
  if (!dockremapExisted) {
    spawnSync('userdel', ['dockremap']);
    spawnSync('groupdel', ['dockremap']);
    for (const file of ['/etc/subuid', '/etc/subgid']) {
      const kept = readFileSync(file, 'utf8').split('\n').filter((entry) => !entry.startsWith('dockremap:')).join('\n');
      writeFileSync(file, kept);
    }
  }
});

test('default creates dockremap with a range; the data root is <uid>.<gid>; info says userns', async () => {
  assert.equal(spawnSync('id', ['dockremap']).status, 0);
  const subgid = readFileSync('/etc/subgid', 'utf8');
  assert.match(subgid, /^dockremap:\d+:\d+$/m);
  const info = (await daemon.api('GET', '/info')).json();
  assert.equal(info.DockerRootDir, join(daemon.dataRoot, `${range.start}.${range.start}`));
  assert.ok(info.SecurityOptions.includes('name=userns'), JSON.stringify(info.SecurityOptions));
  const remapped = statSync(info.DockerRootDir);
  assert.equal(remapped.gid, range.start);
  assert.equal(remapped.mode & 0o777, 0o710);
  // Image layers are unpacked owned by the remapped IDs.
  const layers = join(info.DockerRootDir, 'layers');
  const layer = readdirSync(layers).find((name) => /^[0-9a-f]{64}$/.test(name))!;
  const bin = statSync(join(layers, layer, 'diff', 'bin'));
  assert.deepEqual([bin.uid, bin.gid], [range.start, range.start]);
});

test('root in the container is the remapped uid on the host: binds, new -v directories and volumes', async () => {
  const shared = join(daemon.root, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const out = await daemon.berthOk(['run', '--rm', '-v', `${shared}:/shared`, '-v', `${join(daemon.root, 'made')}:/made`, '-v', 'uvol:/vol',
    'busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map; touch /shared/f /made/f /vol/f /rootfile && echo wrote']);
  const [uid, map] = out.split('\n');
  assert.equal(uid, '0');
  assert.deepEqual(map.trim().split(/\s+/).map(Number), [0, range.start, range.count]);
  assert.match(out, /wrote/);
  for (const file of [join(shared, 'f'), join(daemon.root, 'made', 'f'), join(daemon.root, 'made')]) {
    const stats = statSync(file);
    assert.deepEqual([stats.uid, stats.gid], [range.start, range.start], file);
  }
  const volume = (await daemon.api('GET', '/volumes/uvol')).json();
  assert.equal(statSync(join(volume.Mountpoint, 'f')).uid, range.start);
  assert.equal(statSync(volume.Mountpoint).uid, range.start);
  // A root-owned host directory stays closed to the container's root.
  const closed = join(daemon.root, 'closed');
  mkdirSync(closed);
  const refused = await daemon.berth(['run', '--rm', '-v', `${closed}:/closed`, 'busybox', 'touch', '/closed/f']);
  assert.notEqual(refused.code, 0);
  assert.equal(existsSync(join(closed, 'f')), false);
  await daemon.berth(['volume', 'rm', 'uvol']);
});

test('exec runs in the container\'s user namespace; --userns=host opts out; --privileged needs it', async () => {
  const id = (await daemon.berthOk(['run', '-d', 'busybox', 'sleep', '300'])).trim();
  try {
    const map = await daemon.berthOk(['exec', id, 'cat', '/proc/self/uid_map']);
    assert.deepEqual(map.trim().split(/\s+/).map(Number), [0, range.start, range.count]);
    const pid = JSON.parse(await daemon.berthOk(['inspect', id]))[0].State.Pid;
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${range.start}\\s`, 'm'));
    // cp in: files land owned by the remapped root; cp out: the archive names owners as the container sees them.
    const local = join(daemon.root, 'copied');
    writeFileSync(local, 'copied\n');
    await daemon.berthOk(['cp', local, `${id}:/copied`]);
    const upper = statSync(join(daemon.dataRoot, `${range.start}.${range.start}`, 'containers', id, 'fs', 'upper', 'copied'));
    assert.deepEqual([upper.uid, upper.gid], [range.start, range.start]);
    assert.equal(await daemon.berthOk(['exec', id, 'stat', '-c', '%u:%g', '/copied']), '0:0\n');
    const listing = spawnSync('sh', ['-c', `node ${JSON.stringify(BERTH)} -H ${daemon.host} cp ${id}:/copied - | tar -tvf - --numeric-owner`], { encoding: 'utf8' });
    assert.match(listing.stdout, /^-rw-r--r-- 0\/0 /m, JSON.stringify(listing));
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
  const hostMap = await daemon.berthOk(['run', '--rm', '--userns', 'host', 'busybox', 'cat', '/proc/self/uid_map']);
  assert.deepEqual(hostMap.trim().split(/\s+/).map(Number), [0, 0, 4294967295]);
  const refused = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Privileged: true } });
  assert.equal(refused.status, 400);
  assert.match(refused.json().message, /privileged mode is incompatible with user namespaces/);
  const privileged = await daemon.berthOk(['run', '--rm', '--privileged', '--userns=host', 'busybox', 'sh', '-c', 'mkdir -p /m && mount -t tmpfs t /m && echo mounted']);
  assert.equal(privileged, 'mounted\n');
});

test('a remap user without a subuid range stops the daemon at start, with nothing made', () => {
  const root = join(daemon.root, 'norange');
  const result = spawnSync(process.execPath, [BERTHD, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'),
    '-H', `unix://${join(root, 'sock')}`, '--pidfile', join(root, 'pid'), '--userns-remap', 'nobody:nogroup'], { env: childEnv(), encoding: 'utf8', timeout: 20_000 });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /Can't create ID mappings: No subuid ranges found for user "nobody"/);
  assert.equal(existsSync(root), false);
});
