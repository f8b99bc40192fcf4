// Volumes and mounts end to end: -v, --mount, --tmpfs, --volumes-from, image VOLUMEs with copy-up,
// read-only enforcement, in-use refusals, prune, rm -v, --rm, a daemon restart, the backup recipe,
// through berth and through the real docker CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, runCommand, useDaemon } from './harness.js';

const daemon = useDaemon();

const volumeNames = async () => (await daemon.api('GET', '/volumes')).json().Volumes.map((volume: { Name: string }) => volume.Name).sort();
const hostDir = (name: string) => {
  const path = join(daemon.root, name);
  mkdirSync(path, { recursive: true });
  return path;
};

test('-v bind, named and anonymous volumes; inspect shows Mounts as Docker does', async () => {
  const host = hostDir('bind1');
  writeFileSync(join(host, 'in'), 'from host\n');
  const out = await daemon.berthOk(['run', '--name', 'v1', '-v', `${host}:/h`, '-v', 'named1:/n', '-v', '/anon', 'busybox',
    'sh', '-c', 'cat /h/in && echo to-host > /h/out && echo kept > /n/f && echo a > /anon/f']);
  assert.equal(out, 'from host\n');
  assert.equal(readFileSync(join(host, 'out'), 'utf8'), 'to-host\n');
  const inspect = JSON.parse(await daemon.berthOk(['inspect', 'v1']))[0];
  const byDestination = Object.fromEntries(inspect.Mounts.map((m: { Destination: string }) => [m.Destination, m]));
  assert.deepEqual(byDestination['/h'], { Type: 'bind', Source: host, Destination: '/h', Mode: '', RW: true, Propagation: 'rprivate' });
  assert.deepEqual(byDestination['/n'], {
    Type: 'volume', Name: 'named1', Source: join(daemon.dataRoot, 'volumes', 'named1', '_data'), Destination: '/n', Driver: 'local',
    Mode: 'z', RW: true, Propagation: '',
  });
  assert.match(byDestination['/anon'].Name, /^[0-9a-f]{64}$/);
  assert.deepEqual(inspect.HostConfig.Binds, [`${host}:/h`, 'named1:/n', '/anon'].filter((bind) => bind.includes(':')));
  const ps = JSON.parse((await daemon.api('GET', '/containers/json?all=1&filters=' + encodeURIComponent(JSON.stringify({ name: ['v1'] })))).body);
  assert.equal(ps[0].Mounts.length, 3);
  assert.deepEqual(mountsUnder(daemon.root), [], 'no mount left once the container stopped');

  // Named data outlives the container; rm -v removes only the anonymous volume.
  const anonymous = byDestination['/anon'].Name;
  await daemon.berthOk(['rm', '-v', 'v1']);
  const names = await volumeNames();
  assert.ok(names.includes('named1'));
  assert.ok(!names.includes(anonymous), 'rm -v removed the anonymous volume');
  assert.equal(await daemon.berthOk(['run', '--rm', '-v', 'named1:/n', 'busybox', 'cat', '/n/f']), 'kept\n');
  await daemon.berthOk(['volume', 'rm', 'named1']);
});

test('read-only mounts refuse writes; --mount bind, volume and tmpfs', async () => {
  const host = hostDir('ro');
  const ro = await daemon.berth(['run', '--rm', '-v', `${host}:/r:ro`, 'busybox', 'touch', '/r/x']);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  const roVolume = await daemon.berth(['run', '--rm', '--mount', 'type=volume,src=rovol,dst=/r,readonly', 'busybox', 'touch', '/r/x']);
  assert.match(roVolume.stderr, /Read-only file system/);
  const out = await daemon.berthOk(['run', '--rm', '--mount', `type=bind,source=${host},target=/b`, '--mount', 'type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770',
    'busybox', 'sh', '-c', 'touch /b/y && stat -c %a /t && grep " /t " /proc/mounts']);
  assert.match(out, /^1770\n/);
  assert.match(out, /tmpfs \/t tmpfs .*size=1024k/);
  assert.ok(existsSync(join(host, 'y')));
  const tmpfs = await daemon.berthOk(['run', '--rm', '--tmpfs', '/scratch:size=64k', 'busybox', 'grep', ' /scratch ', '/proc/mounts']);
  assert.match(tmpfs, /size=64k/);
  await daemon.berthOk(['volume', 'rm', 'rovol']);
});

test('bad mounts are refused with Docker\'s words and create nothing', async () => {
  const before = await volumeNames();
  const cases: Array<[unknown, RegExp]> = [
    [{ Binds: ['relative/dir:/x'] }, /"relative\/dir" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed. If you intended to pass a host directory, use absolute path/],
    [{ Mounts: [{ Type: 'bogus', Target: '/x' }] }, /invalid mount config for type "bogus": mount type unknown/],
    [{ Binds: ['okvol:/x', '/tmp:/x'] }, /Duplicate mount point: \/x/],
    [{ Mounts: [{ Type: 'bind', Source: join(daemon.root, 'missing'), Target: '/x' }] }, /invalid mount config for type "bind": bind source path does not exist: /],
    [{ Binds: ['newvol:/y'], Mounts: [{ Type: 'volume', Source: 'a/b', Target: '/x' }] }, /"a\/b" includes invalid characters for a local volume name/],
  ];
  for (const [hostConfig, message] of cases) {
    const response = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: hostConfig });
    assert.equal(response.status, 400, response.body);
    assert.match(response.json().message, message);
  }
  assert.equal((await daemon.api('POST', '/volumes/create', { Name: 'a/b' })).status, 400);
  assert.deepEqual(await volumeNames(), before, 'nothing half-created');
  assert.equal((await daemon.api('GET', '/containers/json?all=1')).json().length, 0);
  const viaDocker = await daemon.docker(['run', '--rm', '--mount', 'type=bind,src=/nonexistent-berth,dst=/x', 'busybox', 'true']);
  assert.match(viaDocker.stderr, /bind source path does not exist: \/nonexistent-berth/);
});

test('copy-up fills a new volume with the image\'s content, owners, modes and symlinks kept', async () => {
  const tarball = join(daemon.root, 'withdata.tar');
  copyFileSync(daemon.busyboxRootfs(), tarball);
  const staging = hostDir('staging');
  mkdirSync(join(staging, 'data'));
  writeFileSync(join(staging, 'data', 'file'), 'image content\n');
  execFileSync('ln', ['-s', 'file', join(staging, 'data', 'link')]);
  execFileSync('chmod', ['0640', join(staging, 'data', 'file')]);
  execFileSync('tar', ['-rf', tarball, '-C', staging, '--owner=1234', '--group=5678', '--numeric-owner', 'data']);
  await daemon.berthOk(['import', '-c', 'VOLUME /data', tarball, 'withdata:1']);
  const out = await daemon.berthOk(['run', '--name', 'cu', 'withdata:1', 'sh', '-c', 'stat -c "%u:%g %a" /data/file; readlink /data/link; cat /data/link']);
  assert.equal(out, '1234:5678 640\nfile\nimage content\n');
  const named = await daemon.berthOk(['run', '--rm', '-v', 'cuvol:/data', 'withdata:1', 'cat', '/data/file']);
  assert.equal(named, 'image content\n');
  const nocopy = await daemon.berthOk(['run', '--rm', '--mount', 'type=volume,dst=/data,volume-nocopy', 'withdata:1', 'ls', '/data']);
  assert.equal(nocopy, '');
  // A data container that never runs: copy-up happens at create, as in Docker.
  await daemon.dockerOk(['create', '--name', 'datac', 'withdata:1', 'true']);
  assert.equal(await daemon.dockerOk(['run', '--rm', '--volumes-from', 'datac', 'busybox', 'stat', '-c', '%u:%g %a %N', '/data/file', '/data/link']),
    "1234:5678 640 /data/file\n1234:5678 777 '/data/link' -> 'file'\n");
  await daemon.berthOk(['rm', '-v', 'cu', 'datac']);
  await daemon.berthOk(['volume', 'rm', 'cuvol']);
});

test('the copy-up mounts the root only when the image holds the path; a start takes that mount over, else it goes', async () => {
  const mountsOf = async (name: string) => {
    const id = (await daemon.berthOk(['inspect', '-f', '{{.Id}}', name])).trim();
    return mountsUnder(join(daemon.dataRoot, 'containers', id));
  };
  await daemon.berthOk(['create', '--name', 'nothere', '-v', 'emptyvol:/nothere', 'busybox', 'true']);
  assert.deepEqual(await mountsOf('nothere'), [], 'busybox has no /nothere: nothing to copy, nothing mounted');
  await daemon.berthOk(['start', '-a', 'nothere']);
  assert.equal(await daemon.berthOk(['run', '--rm', '-v', 'emptyvol:/nothere', 'busybox', 'ls', '-A', '/nothere']), '');

  const tarball = join(daemon.root, 'keptmount.tar');
  copyFileSync(daemon.busyboxRootfs(), tarball);
  const staging = hostDir('keptmount');
  mkdirSync(join(staging, 'data'));
  writeFileSync(join(staging, 'data', 'file'), 'kept\n');
  execFileSync('tar', ['-rf', tarball, '-C', staging, 'data']);
  await daemon.berthOk(['import', '-c', 'VOLUME /data', tarball, 'keptmount:1']);
  await daemon.berthOk(['create', '--name', 'taken', 'keptmount:1', 'cat', '/data/file']);
  assert.equal((await mountsOf('taken')).length, 1, 'the copy-up left the root mounted for the start');
  assert.equal(await daemon.berthOk(['start', '-a', 'taken']), 'kept\n');
  assert.deepEqual(await mountsOf('taken'), [], 'the run unmounted what it took over');
  await daemon.berthOk(['create', '--name', 'notstarted', 'keptmount:1', 'true']);
  assert.equal((await mountsOf('notstarted')).length, 1);
  const deadline = Date.now() + 30_000;
  while ((await mountsOf('notstarted')).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(await mountsOf('notstarted'), [], 'no start came: the mount went');
  assert.equal(await daemon.berthOk(['start', '-a', 'notstarted']), '');
  await daemon.berthOk(['create', '--name', 'removed', 'keptmount:1', 'true']);
  await daemon.berthOk(['rm', '-v', 'nothere', 'taken', 'notstarted', 'removed']);
  assert.deepEqual(mountsUnder(join(daemon.dataRoot, 'containers')), [], 'rm of a container created a moment ago unmounted its root');
  await daemon.berthOk(['volume', 'rm', 'emptyvol']);
});

test('volume in use: rm refused with 409; prune spares named volumes unless --all; --rm drops anonymous ones', async () => {
  await daemon.berthOk(['create', '--name', 'user1', '-v', 'busyvol:/b', 'busybox', 'true']);
  const id = (await daemon.berthOk(['inspect', '-f', '{{.Id}}', 'user1'])).trim();
  const refused = await daemon.api('DELETE', '/volumes/busyvol');
  assert.equal(refused.status, 409);
  assert.equal(refused.json().message, `remove busyvol: volume is in use - [${id}]`);
  assert.equal((await daemon.api('GET', '/volumes?filters=' + encodeURIComponent('{"dangling":["true"]}'))).json().Volumes.some((v: { Name: string }) => v.Name === 'busyvol'), false);
  await daemon.berthOk(['rm', 'user1']);

  await daemon.berthOk(['volume', 'create', '--label', 'keep=no', 'idle']);
  await daemon.berthOk(['run', '--name', 'anonuser', '-v', '/a', 'busybox', 'true']);
  const anonymous = JSON.parse(await daemon.berthOk(['inspect', 'anonuser']))[0].Mounts[0].Name;
  await daemon.berthOk(['rm', 'anonuser']);
  assert.ok((await volumeNames()).includes(anonymous), 'rm without -v keeps the anonymous volume');
  const pruned = (await daemon.api('POST', '/volumes/prune')).json();
  assert.deepEqual(pruned.VolumesDeleted, [anonymous]);
  assert.ok((await volumeNames()).includes('idle'));
  const all = await daemon.dockerOk(['volume', 'prune', '-f', '--all', '--filter', 'label=keep=no']);
  assert.match(all, /idle/);
  assert.deepEqual((await volumeNames()).filter((name: string) => ['idle', 'busyvol'].includes(name)), ['busyvol']);
  await daemon.berthOk(['volume', 'rm', 'busyvol']);

  const before = await volumeNames();
  await daemon.berthOk(['run', '--rm', '-v', '/gone', 'busybox', 'true']);
  assert.deepEqual(await volumeNames(), before, '--rm removed its anonymous volume');
});

test('docker CLI: volume create/ls/inspect/rm and -v; data survives a daemon restart', async () => {
  await daemon.dockerOk(['volume', 'create', '--label', 'a=b', 'dvol']);
  assert.match(await daemon.dockerOk(['volume', 'ls']), /DRIVER\s+VOLUME NAME\nlocal\s+dvol/);
  assert.equal((await daemon.dockerOk(['volume', 'ls', '-q', '--filter', 'label=a=b'])).trim(), 'dvol');
  for (const args of [['volume', 'ls'], ['volume', 'ls', '-q'], ['volume', 'ls', '--filter', 'label=a', '--format', '{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}} {{.Mountpoint}}'], ['volume', 'inspect', 'dvol']]) {
    assert.equal(await daemon.berthOk(args), await daemon.dockerOk(args), `berth ${args.join(' ')} prints what docker prints`);
  }
  const inspect = JSON.parse(await daemon.dockerOk(['volume', 'inspect', 'dvol']))[0];
  assert.equal(inspect.Mountpoint, join(daemon.dataRoot, 'volumes', 'dvol', '_data'));
  assert.deepEqual(inspect.Labels, { a: 'b' });
  await daemon.dockerOk(['run', '--rm', '-v', 'dvol:/d', 'busybox', 'sh', '-c', 'echo persisted > /d/f']);
  await daemon.stop();
  await daemon.start();
  assert.equal(await daemon.dockerOk(['run', '--rm', '-v', 'dvol:/d', 'busybox', 'cat', '/d/f']), 'persisted\n');
  const host = hostDir('dockerbind');
  await daemon.dockerOk(['run', '--rm', '-v', `${host}:/h`, '--mount', 'type=volume,src=dvol,dst=/d,readonly', 'busybox', 'cp', '/d/f', '/h/f']);
  assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'persisted\n');
  await daemon.dockerOk(['volume', 'rm', 'dvol']);
  const missing = await daemon.docker(['volume', 'inspect', 'dvol']);
  assert.match(missing.stderr, /no such volume/);
});

test('the backup and restore recipe of Docker\'s notes', async () => {
  const backup = hostDir('backup');
  await daemon.berthOk(['run', '-v', '/dbdata', '--name', 'dbstore', 'busybox', 'sh', '-c', 'echo data > /dbdata/f']);
  await daemon.berthOk(['run', '--rm', '--volumes-from', 'dbstore', '-v', `${backup}:/backup`, 'busybox', 'tar', 'cvf', '/backup/backup.tar', '/dbdata']);
  assert.ok(existsSync(join(backup, 'backup.tar')));
  await daemon.berthOk(['run', '-v', '/dbdata', '--name', 'dbstore2', 'busybox', 'true']);
  await daemon.berthOk(['run', '--rm', '--volumes-from', 'dbstore2', '-v', `${backup}:/backup`, 'busybox', 'sh', '-c', 'cd /dbdata && tar xvf /backup/backup.tar --strip 1']);
  const restored = JSON.parse(await daemon.berthOk(['inspect', 'dbstore2']))[0].Mounts[0].Source;
  assert.equal(readFileSync(join(restored, 'f'), 'utf8'), 'data\n');
  assert.ok(existsSync(JSON.parse(await daemon.berthOk(['inspect', 'dbstore']))[0].Mounts[0].Source), '--rm of the --volumes-from container kept dbstore\'s volume');
  await daemon.berthOk(['rm', '-v', 'dbstore', 'dbstore2']);
  assert.deepEqual(readdirSync(join(daemon.dataRoot, 'volumes')).filter((name) => /^[0-9a-f]{64}$/.test(name)), []);
});

test('docker-py\'s volume API: create, list, inspect, remove, prune, and a container using a volume', async () => {
  const script = `
import docker, sys
client = docker.DockerClient(base_url=sys.argv[1], version='auto', timeout=60)
volume = client.volumes.create(name='pyvol', labels={'from': 'py'})
assert volume.name == 'pyvol', volume.attrs
assert client.volumes.get('pyvol').attrs['Labels'] == {'from': 'py'}
assert [v.name for v in client.volumes.list(filters={'label': 'from=py'})] == ['pyvol']
out = client.containers.run('busybox', 'sh -c "echo py > /v/f && cat /v/f"', volumes={'pyvol': {'bind': '/v', 'mode': 'rw'}}, remove=True)
assert out == b'py\\n', out
try:
    client.volumes.get('nope-vol')
    raise AssertionError('no NotFound')
except docker.errors.NotFound:
    pass
volume.remove()
anonymous = client.api.create_volume(labels={'com.docker.volume.anonymous': ''})['Name']
assert anonymous in client.api.prune_volumes()['VolumesDeleted']
print('ok')
`;
  const result = await runCommand('/usr/bin/python3', ['-c', script, daemon.host], { timeoutMs: 60_000 });
  assert.equal(result.stdout, 'ok\n', result.stderr + daemon.log);
});

test('docker CLI: a missing -v host path is made, ps shows Mounts, inspect shows HostConfig.Mounts, duplicates refused', async () => {
  const missing = join(daemon.root, 'made', 'by', 'v');
  await daemon.dockerOk(['run', '--name', 'dv', '-v', `${missing}:/m`, '--mount', 'type=volume,src=psvol,dst=/p', 'busybox', 'touch', '/m/x']);
  assert.ok(existsSync(join(missing, 'x')));
  assert.equal((await daemon.dockerOk(['ps', '-a', '-q', '--filter', 'volume=psvol'])).trim().length, 12);
  assert.equal((await daemon.dockerOk(['ps', '-a', '-q', '--filter', 'volume=/m'])).trim().length, 12);
  assert.equal((await daemon.dockerOk(['ps', '-a', '-q', '--filter', 'volume=other'])).trim(), '');
  assert.equal((await daemon.dockerOk(['ps', '-a', '--no-trunc', '--filter', 'name=dv', '--format', '{{.Mounts}}'])).trim(), `${missing},psvol`);
  const inspect = JSON.parse(await daemon.dockerOk(['inspect', 'dv']))[0];
  assert.deepEqual(inspect.HostConfig.Mounts, [{ Type: 'volume', Source: 'psvol', Target: '/p' }]);
  await daemon.dockerOk(['rm', '-v', 'dv']);
  assert.ok((await volumeNames()).includes('psvol'), 'rm -v keeps named volumes');
  await daemon.dockerOk(['volume', 'rm', 'psvol']);
  const duplicate = await daemon.docker(['run', '--rm', '-v', '/a:/x', '--tmpfs', '/x', 'busybox', 'true']);
  assert.equal(duplicate.code, 125);
  assert.match(duplicate.stderr, /Duplicate mount point: \/x/);
  const slash = await daemon.docker(['volume', 'create', 'a/b']);
  assert.match(slash.stderr, /"a\/b" includes invalid characters for a local volume name/);
  assert.deepEqual(mountsUnder(daemon.root), []);
});

test('local driver options: a tmpfs volume and a bind volume are mounted while used, and unmounted after', async () => {
  await daemon.berthOk(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m,mode=1777', 'tvol']);
  assert.deepEqual(JSON.parse(await daemon.berthOk(['volume', 'inspect', 'tvol']))[0].Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,mode=1777' });
  const inside = await daemon.berthOk(['run', '--rm', '-v', 'tvol:/t', 'busybox', 'sh', '-c', 'grep " /t " /proc/mounts; echo x > /t/f']);
  assert.match(inside, /^tmpfs \/t tmpfs rw,.*size=1024k/);
  assert.deepEqual(mountsUnder(daemon.root), [], 'the tmpfs is unmounted once no container uses it');
  assert.equal(await daemon.berthOk(['run', '--rm', '-v', 'tvol:/t', 'busybox', 'ls', '/t']), '', 'a tmpfs volume starts empty each time');
  // Containers running at once share the mount, across a daemon restart too; the last one's exit unmounts it.
  await daemon.berthOk(['run', '-d', '--name', 'tholder', '-v', 'tvol:/t', 'busybox', 'sh', '-c', 'echo shared > /t/f; sleep 60']);
  await daemon.berthOk(['exec', 'tholder', 'sh', '-c', 'while [ ! -f /t/f ]; do sleep 0.1; done']);
  await daemon.stop();
  await daemon.start();
  assert.equal(await daemon.berthOk(['run', '--rm', '-v', 'tvol:/t', 'busybox', 'cat', '/t/f']), 'shared\n');
  assert.equal(mountsUnder(daemon.root).filter((point) => point.includes('/volumes/tvol/')).length, 1, 'still mounted for the running holder');
  await daemon.berthOk(['rm', '-f', 'tholder']);
  assert.deepEqual(mountsUnder(daemon.root), []);

  const host = hostDir('bindvol');
  await daemon.dockerOk(['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${host}`, 'bvol']);
  await daemon.dockerOk(['run', '--rm', '-v', 'bvol:/b', 'busybox', 'sh', '-c', 'echo bound > /b/f']);
  assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'bound\n');
  assert.deepEqual(mountsUnder(daemon.root), []);
  const bad = await daemon.docker(['volume', 'create', '-o', 'bogus=1', 'badopt']);
  assert.match(bad.stderr, /invalid option: "bogus"/);
  await daemon.berthOk(['volume', 'rm', 'tvol', 'bvol']);
  assert.ok(existsSync(join(host, 'f')), 'removing a bind volume leaves the bound directory alone');
});

test('cp into and out of a path under a volume or a bind reads and writes the mount\'s source', async () => {
  const host = hostDir('cpbind');
  writeFileSync(join(daemon.root, 'upload.txt'), 'uploaded\n');
  await daemon.berthOk(['run', '-d', '--name', 'cpc', '-v', 'cpvol:/data', '-v', `${host}:/ro:ro`, 'busybox', 'sleep', '60']);
  await daemon.dockerOk(['cp', join(daemon.root, 'upload.txt'), 'cpc:/data/']);
  assert.equal(readFileSync(join(daemon.dataRoot, 'volumes', 'cpvol', '_data', 'upload.txt'), 'utf8'), 'uploaded\n');
  assert.equal(await daemon.berthOk(['exec', 'cpc', 'cat', '/data/upload.txt']), 'uploaded\n');
  await daemon.berthOk(['exec', 'cpc', 'sh', '-c', 'echo made-inside > /data/inside']);
  const out = join(daemon.root, 'downloaded');
  await daemon.dockerOk(['cp', 'cpc:/data/inside', out]);
  assert.equal(readFileSync(out, 'utf8'), 'made-inside\n');
  const readonly = await daemon.docker(['cp', join(daemon.root, 'upload.txt'), 'cpc:/ro/']);
  assert.notEqual(readonly.code, 0);
  assert.match(readonly.stderr, /mounted volume is marked read-only/);
  await daemon.berthOk(['rm', '-f', 'cpc']);
  await daemon.berthOk(['volume', 'rm', 'cpvol']);
});

test('cp of a directory holding mount points packs the mounts\' data (stopped container too); export leaves them out', async () => {
  const host = hostDir('cpnested');
  writeFileSync(join(host, 'from-bind'), 'bind\n');
  await daemon.berthOk(['run', '--name', 'cpn', '-v', 'cpnvol:/srv/vol', '-v', `${host}:/srv/deep/bind`, 'busybox',
    'sh', '-c', 'echo layer > /srv/in-layer && echo volume > /srv/vol/in-volume']);
  const out = join(daemon.root, 'cpn-out');
  await daemon.dockerOk(['cp', 'cpn:/srv', out]);
  assert.equal(readFileSync(join(out, 'in-layer'), 'utf8'), 'layer\n');
  assert.equal(readFileSync(join(out, 'vol', 'in-volume'), 'utf8'), 'volume\n');
  assert.equal(readFileSync(join(out, 'deep', 'bind', 'from-bind'), 'utf8'), 'bind\n');
  const tarball = join(daemon.root, 'cpn.tar');
  await daemon.berthOk(['export', '-o', tarball, 'cpn']);
  const exported = execFileSync('tar', ['-tf', tarball], { encoding: 'utf8' }).split('\n');
  assert.ok(exported.includes('srv/in-layer'), 'export has the layer\'s files');
  assert.ok(!exported.some((name) => name.includes('in-volume') || name.includes('from-bind')), 'export leaves mounts out');
  await daemon.berthOk(['rm', '-v', 'cpn']);
  await daemon.berthOk(['volume', 'rm', 'cpnvol']);
});

test('system df counts volumes: their size and the containers using them', async () => {
  await daemon.berthOk(['volume', 'create', 'dfvol']);
  await daemon.berthOk(['run', '--name', 'dfc', '-v', 'dfvol:/d', 'busybox', 'sh', '-c', 'head -c 4096 /dev/zero > /d/f']);
  const usage = (await daemon.api('GET', '/system/df?type=volume')).json();
  assert.equal(usage.Images, null);
  const volume = usage.Volumes.find((v: { Name: string }) => v.Name === 'dfvol');
  assert.deepEqual(volume.UsageData, { Size: 4096, RefCount: 1 });
  assert.match(await daemon.dockerOk(['system', 'df']), /^Local Volumes\s+\d+\s+\d+\s+\S+/m);
  assert.match(await daemon.dockerOk(['system', 'df', '-v']), /^dfvol\s+1\s+4\.096kB$/m);
  assert.equal(await daemon.berthOk(['system', 'df']), await daemon.dockerOk(['system', 'df']), 'berth prints what docker prints');
  await daemon.berthOk(['rm', 'dfc']);
  await daemon.berthOk(['volume', 'rm', 'dfvol']);
});
