// Mount resolution (-v, --mount, --tmpfs, --volumes-from, image VOLUMEs) and the OCI mounts it becomes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseApiMount, parseBind, parseVolumesFrom, resolveMounts, validMountMode, type ContainerMountPoint } from '../../src/volumes/mounts.js';
import { buildOciSpec, type SpecInput } from '../../src/containers/spec.js';
import { specMounts } from '../../src/containers/volumes-hook.js';
import { validateVolumeName } from '../../src/volumes/store.js';
import { unionMayHold } from '../../src/volumes/container-volumes.js';

const noContainers = (name: string): ContainerMountPoint[] => { throw new Error(`No such container: ${name}`); };

test('-v forms: bind, bind with modes, named volume, anonymous volume', () => {
  assert.deepEqual(parseBind('/host:/ctr'), { Type: 'bind', Source: '/host', Destination: '/ctr', Mode: '', RW: true, Propagation: 'rprivate', createHostPath: true });
  const ro = parseBind('/host/:/ctr:ro,rshared');
  assert.equal(ro.RW, false);
  assert.equal(ro.Propagation, 'rshared');
  assert.equal(ro.Mode, 'ro,rshared');
  assert.equal(ro.Source, '/host');
  assert.deepEqual(parseBind('data:/ctr:ro'), { Type: 'volume', Name: 'data', Source: '', Destination: '/ctr', Driver: 'local', Mode: 'ro', RW: false, Propagation: '', anonymous: false, copyData: true });
  assert.equal(parseBind('data:/ctr').Mode, 'z');
  assert.equal(parseBind('data:/ctr:nocopy').copyData, false);
  const anonymous = parseBind('/data');
  assert.equal(anonymous.Type, 'volume');
  assert.equal(anonymous.Name, undefined);
  assert.equal(anonymous.anonymous, true);
});

test('-v mistakes are refused with Docker\'s words', () => {
  assert.throws(() => parseBind('/foo:rw'), /^Error: invalid volume specification: '\/foo:rw'$/);
  assert.throws(() => parseBind('/a:/b:/c:/d'), /invalid volume specification: '\/a:\/b:\/c:\/d'/);
  assert.throws(() => parseBind('/a:/b:bogus'), /^Error: invalid volume specification: '\/a:\/b:bogus': invalid mode: bogus$/);
  assert.throws(() => parseBind('/a:'), /^Error: invalid volume specification: '\/a:'$/);
  assert.throws(() => parseBind('::::'), /^Error: invalid volume specification: '::::'$/);
  assert.throws(() => parseBind('/a:/b:ro,rw'), /invalid mode: ro,rw/);
  assert.throws(() => parseBind('relative'), /invalid mount path: 'relative' mount path must be absolute/);
  assert.throws(() => parseBind('/a:relative'), /invalid mount config for type "bind": invalid mount path: 'relative' mount path must be absolute/);
  assert.throws(() => parseBind('/a:/'), /destination can't be '\/'/);
  assert.throws(() => parseBind('vol:/x:rshared'), /propagation mode not supported for volumes/);
  assert.equal(validMountMode('ro,Z,nocopy,rslave,cached'), true);
});

test('a relative host path is a volume name, refused as Docker refuses it', () => {
  const mount = parseBind('./dir:/x');
  assert.equal(mount.Type, 'volume');
  assert.throws(() => validateVolumeName(mount.Name!), /"\.\/dir" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed. If you intended to pass a host directory, use absolute path/);
  assert.throws(() => validateVolumeName('a/b'), /includes invalid characters/);
  assert.throws(() => validateVolumeName('a'), /includes invalid characters/);
  assert.throws(() => validateVolumeName('..'), /includes invalid characters/);
  validateVolumeName('my_vol.1-x');
});

test('--mount: bind, volume and tmpfs, with their options', () => {
  assert.deepEqual(parseApiMount({ Type: 'bind', Source: '/h', Target: '/c', ReadOnly: true, BindOptions: { Propagation: 'rslave' } }),
    { Type: 'bind', Source: '/h', Destination: '/c', Mode: '', RW: false, Propagation: 'rslave', createHostPath: false, nonRecursive: false });
  const volume = parseApiMount({ Type: 'volume', Source: 'v', Target: '/c', VolumeOptions: { NoCopy: true, Labels: { a: 'b' } } });
  assert.equal(volume.copyData, false);
  assert.deepEqual(volume.volumeLabels, { a: 'b' });
  assert.equal(parseApiMount({ Type: 'volume', Target: '/c' }).anonymous, true);
  const tmpfs = parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 65536, Mode: 0o1777 } });
  assert.equal(tmpfs.tmpfsOptions, 'size=65536,mode=1777');
});

test('--mount mistakes are refused with Docker\'s words', () => {
  assert.throws(() => parseApiMount({ Type: 'foo', Target: '/c' }), /^Error: invalid mount config for type "foo": mount type unknown$/);
  assert.throws(() => parseApiMount({ Type: 'bind', Target: '/c' }), /invalid mount config for type "bind": field Source must not be empty/);
  assert.throws(() => parseApiMount({ Type: 'bind', Source: 'rel', Target: '/c' }), /invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute/);
  assert.throws(() => parseApiMount({ Type: 'bind', Source: '/h' }), /field Target must not be empty/);
  assert.throws(() => parseApiMount({ Type: 'tmpfs', Source: 'x', Target: '/c' }), /invalid mount config for type "tmpfs": field Source must not be specified/);
  assert.throws(() => parseApiMount({ Type: 'volume', Target: '/c', BindOptions: { Propagation: 'shared' } }), /field BindOptions must not be specified/);
});

test('--volumes-from modes', () => {
  assert.deepEqual(parseVolumesFrom('db'), { container: 'db' });
  assert.deepEqual(parseVolumesFrom('db:ro'), { container: 'db', rw: false });
  assert.throws(() => parseVolumesFrom('db:xx'), /invalid mode for volumes-from: xx/);
});

test('resolution: duplicates refused, volumes-from overridden, image volumes fill the rest', () => {
  assert.throws(() => resolveMounts({ binds: ['/a:/x', '/b:/x'] }, noContainers), /^Error: Duplicate mount point: \/x$/);
  assert.throws(() => resolveMounts({ binds: ['/a:/x'], mounts: [{ Type: 'tmpfs', Target: '/x/' }] }, noContainers), /Duplicate mount point: \/x/);
  assert.throws(() => resolveMounts({ binds: ['/a:/x'], tmpfs: { '/x': '' } }, noContainers), /Duplicate mount point: \/x/);
  const other: ContainerMountPoint[] = [
    { Type: 'volume', Name: 'n1', Source: '/v/n1/_data', Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '', anonymous: true, copyData: true },
    { Type: 'bind', Source: '/h', Destination: '/over', Mode: '', RW: true, Propagation: 'rprivate' },
  ];
  const mounts = resolveMounts({ volumesFrom: ['db:ro'], binds: ['/h2:/over'], imageVolumes: { '/data': {}, '/img': {} } }, () => other);
  assert.equal(mounts.length, 3);
  const data = mounts.find((m) => m.Destination === '/data')!;
  assert.equal(data.RW, false);
  assert.equal(data.anonymous, false, 'a volume taken from another container is not this one\'s to remove');
  assert.equal(mounts.find((m) => m.Destination === '/over')!.Source, '/h2');
  const image = mounts.find((m) => m.Destination === '/img')!;
  assert.equal(image.anonymous, true);
  assert.equal(image.copyData, true);
  assert.throws(() => resolveMounts({ volumesFrom: ['nope'] }, noContainers), /No such container: nope/);
});

test('the OCI spec binds volumes and binds with rbind and rprivate by default, ro and tmpfs options', () => {
  const points: ContainerMountPoint[] = [
    parseBind('/h:/b:ro'),
    { ...parseBind('vol:/v'), Source: '/var/lib/berth/volumes/vol/_data' },
    parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } }),
    parseApiMount({ Type: 'bind', Source: '/s', Target: '/s', BindOptions: { Propagation: 'shared' } }),
  ];
  const input: SpecInput = {
    id: 'c', config: { Cmd: ['true'] }, hostConfig: {}, rootfsPath: '/r', hostsPath: '/e/h', hostnamePath: '/e/n', resolvConfPath: '/e/r',
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' }, mounts: specMounts(points),
    daemon: { cgroupParent: 'berth', seccompProfile: 'unconfined', hostCapabilities: [], arch: 'x64', initPath: '/init' },
  } as unknown as SpecInput;
  const spec = buildOciSpec(input);
  const byDestination = (destination: string) => spec.mounts.find((m) => m.destination === destination)!;
  assert.deepEqual(byDestination('/b'), { destination: '/b', type: 'bind', source: '/h', options: ['rbind', 'ro', 'rprivate'] });
  assert.deepEqual(byDestination('/v'), { destination: '/v', type: 'bind', source: '/var/lib/berth/volumes/vol/_data', options: ['rbind', 'rprivate'] });
  assert.equal(byDestination('/t').type, 'tmpfs');
  assert.ok(byDestination('/t').options!.includes('size=1024'));
  assert.ok(byDestination('/t').options!.includes('mode=700'));
  assert.deepEqual(byDestination('/s').options, ['rbind', 'shared']);
  assert.equal(spec.linux?.rootfsPropagation, 'shared');
});

test('the CLI\'s --mount CSV becomes the API\'s Mount as docker\'s opts.MountOpt makes it', async () => {
  const { parseMountFlag } = await import('../../src/cli/commands/mount-flag.js');
  assert.deepEqual(parseMountFlag('type=bind,src=/h,dst=/c,readonly,bind-propagation=rslave'),
    { Type: 'bind', Source: '/h', Target: '/c', ReadOnly: true, BindOptions: { Propagation: 'rslave' } });
  assert.deepEqual(parseMountFlag('source=v,target=/c,volume-nocopy,volume-label=a=b,volume-opt=o=size=1m'),
    { Source: 'v', Target: '/c', Type: 'volume', VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Options: { o: 'size=1m' } } } });
  assert.deepEqual(parseMountFlag('type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770,ro=false'),
    { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1770 }, ReadOnly: false });
  assert.throws(() => parseMountFlag('type=bind,src=/h'), /target is required/);
  assert.throws(() => parseMountFlag('type=bind,bogus=1,dst=/c'), /unexpected key 'bogus' in 'bogus=1'/);
  assert.throws(() => parseMountFlag('type=bind,dst=/c,volume-nocopy'), /cannot mix 'volume-\*' options with mount type 'bind'/);
  assert.throws(() => parseMountFlag('type=tmpfs,dst=/c,src'), /invalid field 'src' must be a key=value pair/);
});

test('the volume store: create is idempotent, lists with filters, refuses removal in use, prunes anonymous ones unless all', async () => {
  const { mkdtempSync, rmSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { VolumeStore, ANONYMOUS_LABEL } = await import('../../src/volumes/store.js');
  const root = mkdtempSync(join(tmpdir(), 'berth-volumes-'));
  try {
    const store = new VolumeStore(root);
    await store.init();
    const used = new Set<string>();
    store.users = (name) => (used.has(name) ? ['c1'] : []);
    const first = await store.create({ Name: 'named', Labels: { env: 'test' } });
    assert.equal((await store.create({ Name: 'named' })).CreatedAt, first.CreatedAt);
    assert.ok(existsSync(join(root, 'named', '_data')));
    const anonymous = await store.create({ Labels: { [ANONYMOUS_LABEL]: '' } });
    assert.match(anonymous.Name, /^[0-9a-f]{64}$/);
    await assert.rejects(store.create({ Name: 'xx', DriverOpts: { bogus: '1' } }), /^Error: create xx: invalid option: "bogus"$/);
    await assert.rejects(store.create({ Name: 'xx', DriverOpts: { type: 'tmpfs' } }), /create xx: missing required option: "device"/);
    await assert.rejects(store.create({ Name: 'xx', DriverOpts: { device: '/dev/sda1' } }), /create xx: missing required option: "type"/);
    assert.equal(store.has('xx'), false);
    await assert.rejects(store.create({ Name: 'xx', Driver: 'nfs' }), /plugin "nfs" not found/);
    assert.deepEqual(store.list(new Map([['label', ['env=test']]])).map((v) => v.Name), ['named']);
    assert.deepEqual(store.list(new Map([['name', ['nam']]])).map((v) => v.Name), ['named']);
    used.add('named');
    assert.deepEqual(store.list(new Map([['dangling', ['true']]])).map((v) => v.Name), [anonymous.Name]);
    await assert.rejects(store.remove('named'), (error: Error & { kind?: string }) => error.kind === 'conflict' && error.message === 'remove named: volume is in use - [c1]');
    await assert.rejects(store.remove('nope'), /get nope: no such volume/);
    await store.remove('nope', { force: true });
    assert.throws(() => store.list(new Map([['bogus', ['1']]])), /invalid filter 'bogus'/);

    // A removal and a create cut short by a crash: neither is a volume after the restart.
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(root, '.removing-gone-0123abcd', '_data'), { recursive: true });
    writeFileSync(join(root, '.removing-gone-0123abcd', 'volume.json'), JSON.stringify({ Name: 'gone' }));
    mkdirSync(join(root, 'halfmade', '_data'), { recursive: true });
    const reloaded = new VolumeStore(root);
    await reloaded.init();
    assert.deepEqual(reloaded.list().map((v) => v.Name).sort(), [anonymous.Name, 'named'].sort());
    assert.equal(existsSync(join(root, '.removing-gone-0123abcd')), false);
    assert.equal(existsSync(join(root, 'halfmade')), false);
    used.delete('named');
    reloaded.users = () => [];
    assert.deepEqual((await reloaded.prune()).VolumesDeleted, [anonymous.Name]);
    assert.deepEqual((await reloaded.prune(new Map([['all', ['true']], ['label', ['env=other']]]))).VolumesDeleted, []);
    assert.deepEqual((await reloaded.prune(new Map([['all', ['true']]]))).VolumesDeleted, ['named']);
    assert.equal(existsSync(join(root, 'named')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a container path under a mount is looked up in the mount\'s source', async () => {
  const { mountScope } = await import('../../src/containers/archive.js');
  const record = { mountPoints: [parseBind('/h:/data'), { ...parseBind('v:/data/sub'), Source: '/vol/_data' }, parseApiMount({ Type: 'tmpfs', Target: '/t' })] };
  assert.deepEqual(mountScope(record, '/rootfs', '/etc/passwd'), { root: '/rootfs', path: '/etc/passwd' });
  assert.equal(mountScope(record, '/rootfs', '/data/x').root, '/h');
  assert.equal(mountScope(record, '/rootfs', '/data/x').path, '/x');
  assert.equal(mountScope(record, '/rootfs', '/data/sub/').root, '/vol/_data');
  assert.equal(mountScope(record, '/rootfs', '/data/sub/').path, '/');
  assert.equal(mountScope(record, '/rootfs', '/data/sub/.').path, '/.');
  assert.equal(mountScope(record, '/rootfs', '/database').root, '/rootfs');
  assert.equal(mountScope(record, '/rootfs', '/t/x').root, '/rootfs');
});

test('system df rows as docker\'s disk usage formatter words them', async () => {
  const { diskUsageRows } = await import('../../src/cli/commands/disk-usage.js');
  const rows = diskUsageRows({
    LayersSize: 4_000_000,
    Images: [{ Containers: 1, Size: 4_000_000, SharedSize: -1 } as never],
    Containers: [{ State: 'exited', SizeRw: 1000 } as never, { State: 'running', SizeRw: 3000 } as never],
    Volumes: [{ UsageData: { Size: 2048, RefCount: 0 } } as never, { UsageData: { Size: 2048, RefCount: 2 } } as never],
    BuildCache: [],
  });
  assert.deepEqual(rows, [
    { Type: 'Images', TotalCount: '1', Active: '1', Size: '4MB', Reclaimable: '4MB (100%)' },
    { Type: 'Containers', TotalCount: '2', Active: '1', Size: '4kB', Reclaimable: '1kB (25%)' },
    { Type: 'Local Volumes', TotalCount: '2', Active: '1', Size: '4.096kB', Reclaimable: '2.048kB (50%)' },
    { Type: 'Build Cache', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
  ]);
});

test('copy-up without a mount: the union may hold a path only where some layer has an entry or a symlink on the way', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-union-'));
  try {
    const [upper, top, base] = ['upper', 'top', 'base'].map((name) => join(root, name));
    mkdirSync(upper);
    mkdirSync(join(top, 'etc'), { recursive: true });
    writeFileSync(join(top, 'etc', 'hostname'), 'x');
    mkdirSync(join(base, 'var', 'lib', 'db'), { recursive: true });
    writeFileSync(join(base, 'file'), 'x');
    symlinkSync('/var/lib', join(top, 'link'));
    // A whiteout (0:0 character device) hides; it never shows anything below it.
    execFileSync('mknod', [join(top, 'gone'), 'c', '0', '0']);
    const dirs = [upper, top, base];
    assert.equal(await unionMayHold(dirs, '/data'), false, 'no layer has it');
    assert.equal(await unionMayHold(dirs, '/etc/nothing'), false);
    assert.equal(await unionMayHold(dirs, '/file/below'), false, 'a file on the way');
    assert.equal(await unionMayHold(dirs, '/gone/x'), false, 'a whiteout on the way');
    assert.equal(await unionMayHold(dirs, '/var/lib/db'), true, 'in a lower layer');
    assert.equal(await unionMayHold(dirs, '/var/lib/db/'), true);
    assert.equal(await unionMayHold(dirs, '/etc/hostname'), true, 'a file counts too (the copy-up looks again)');
    assert.equal(await unionMayHold(dirs, '/link/db'), true, 'a symlink on the way may lead anywhere');
    assert.equal(await unionMayHold([], '/data'), false, 'an image without layers');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
