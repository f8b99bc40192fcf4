// buildOciSpec / validateHostConfig: the OCI spec Docker would generate, and its create checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../src/errdefs/errors.js';
import { loadDefaultProfile } from '../../src/containers/seccomp.js';
import {
  ALL_CAPABILITIES, DEFAULT_CAPABILITIES, applyHostConfigDefaults, buildOciSpec, capabilitiesFromMask,
  mergeTmpfsOptions, validateHostConfig, type SpecHostConfig, type SpecInput,
} from '../../src/containers/spec.js';
import type { ContainerConfig } from '../../src/wire/types.js';
import type { OciSpec } from '../../src/runtime/oci-types.js';

const ID = 'a'.repeat(64);
const HOST_CAPS_WITHOUT_SYS_RESOURCE = ALL_CAPABILITIES.filter((cap) => cap !== 'CAP_SYS_RESOURCE');

function input(config: ContainerConfig = {}, hostConfig: SpecHostConfig = {}, daemon: Partial<SpecInput['daemon']> = {}, extra: Partial<SpecInput> = {}): SpecInput {
  return {
    id: ID,
    config: { Hostname: 'aaaaaaaaaaaa', Cmd: ['sh'], ...config },
    hostConfig,
    rootfsPath: `/var/lib/berth/containers/${ID}/fs/merged`,
    hostsPath: `/var/lib/berth/containers/${ID}/hosts`,
    hostnamePath: `/var/lib/berth/containers/${ID}/hostname`,
    resolvConfPath: `/var/lib/berth/containers/${ID}/resolv.conf`,
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    daemon: {
      cgroupParent: 'berth',
      seccompProfile: loadDefaultProfile(),
      hostCapabilities: [...ALL_CAPABILITIES],
      arch: 'x64',
      kernelVersion: '6.1.0',
      ...daemon,
    },
    ...extra,
  };
}

const spec = (...args: Parameters<typeof input>) => buildOciSpec(input(...args));
const mount = (s: OciSpec, destination: string) => s.mounts.find((m) => m.destination === destination);
const nsTypes = (s: OciSpec) => s.linux.namespaces.map((ns) => ns.type);
const isBadParameter = (message: string | RegExp) => (err: unknown) => {
  assert.ok(err instanceof EngineError, `expected an EngineError, got ${String(err)}`);
  assert.equal(err.kind, 'invalid-parameter');
  if (typeof message === 'string') assert.equal(err.message, message);
  else assert.match(err.message, message);
  return true;
};

// ------------------------------------------------------------------------------- process

test('version, root, hostname, cgroups path', () => {
  const s = spec({}, { ReadonlyRootfs: true });
  assert.equal(s.ociVersion, '1.0.2-dev');
  assert.deepEqual(s.root, { path: `/var/lib/berth/containers/${ID}/fs/merged`, readonly: true });
  assert.equal(s.hostname, 'aaaaaaaaaaaa');
  assert.equal(s.linux.cgroupsPath, `/berth/${ID}`);
  assert.equal(spec({}, {}, { cgroupParent: '/nested/berth/' }).linux.cgroupsPath, `/nested/berth/${ID}`);
});

test('args are entrypoint + cmd; cwd defaults to /', () => {
  const s = spec({ Entrypoint: ['/entry.sh', '-x'], Cmd: ['serve', '--port', '80'], WorkingDir: '/app' });
  assert.deepEqual(s.process.args, ['/entry.sh', '-x', 'serve', '--port', '80']);
  assert.equal(s.process.cwd, '/app');
  assert.equal(spec().process.cwd, '/');
  assert.throws(() => spec({ Cmd: null }), isBadParameter('No command specified'));
});

test('env: PATH and HOSTNAME first, container env overrides, HOME from the user, TERM with a tty', () => {
  const s = spec({ Env: ['FOO=bar'] }, {}, {}, { user: { uid: 1000, gid: 1000, additionalGids: [], home: '/home/app' } });
  assert.deepEqual(s.process.env, [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=aaaaaaaaaaaa', 'FOO=bar', 'HOME=/home/app',
  ]);
  const own = spec({ Env: ['PATH=/bin', 'HOME=/tmp', 'HOSTNAME=custom'], Tty: true });
  assert.deepEqual(own.process.env, ['PATH=/bin', 'HOSTNAME=custom', 'TERM=xterm', 'HOME=/tmp']);
  assert.equal(own.process.terminal, true);
  assert.equal(spec().process.terminal, false);
  assert.ok(!spec().process.env.includes('TERM=xterm'));
});

test('user: uid, gid, and the primary gid first among the additional gids', () => {
  const s = spec({}, {}, {}, { user: { uid: 33, gid: 33, additionalGids: [4, 27], home: '/var/www' } });
  assert.deepEqual(s.process.user, { uid: 33, gid: 33, additionalGids: [33, 4, 27] });
});

test('no rlimits unless Ulimits are given; oomScoreAdj 0; no-new-privileges from SecurityOpt', () => {
  const s = spec();
  assert.equal(s.process.rlimits, undefined);
  assert.equal(s.process.oomScoreAdj, 0);
  assert.equal(s.process.noNewPrivileges, false);
  assert.equal(s.process.apparmorProfile, undefined);
  assert.deepEqual(spec({}, { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }] }).process.rlimits,
    [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }]);
  assert.equal(spec({}, { SecurityOpt: ['no-new-privileges'] }).process.noNewPrivileges, true);
  assert.equal(spec({}, { SecurityOpt: ['no-new-privileges:true'] }).process.noNewPrivileges, true);
  assert.equal(spec({}, { SecurityOpt: ['no-new-privileges=false'] }).process.noNewPrivileges, false);
});

test('--init runs the init binary in front, bind-mounted read-only; not with --pid host', () => {
  const s = spec({ Cmd: ['sleep', '1'] }, { Init: true }, { initPath: '/usr/bin/tini-static' });
  assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'sleep', '1']);
  assert.deepEqual(mount(s, '/sbin/docker-init'), { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] });
  const host = spec({ Cmd: ['sleep', '1'] }, { Init: true, PidMode: 'host' }, { initPath: '/usr/bin/tini-static' });
  assert.deepEqual(host.process.args, ['sleep', '1']);
  assert.equal(spec({ Cmd: ['x'] }, { Init: null }, { init: true, initPath: '/tini' }).process.args[0], '/sbin/docker-init');
  assert.equal(spec({ Cmd: ['x'] }, { Init: false }, { init: true, initPath: '/tini' }).process.args[0], 'x');
});

// --------------------------------------------------------------------------- capabilities

test('default capabilities are Docker\'s 14, in bounding/effective/permitted, none inheritable', () => {
  const caps = spec().process.capabilities;
  assert.deepEqual(caps.bounding, [...DEFAULT_CAPABILITIES]);
  assert.equal(caps.bounding.length, 14);
  assert.deepEqual(caps.effective, caps.bounding);
  assert.deepEqual(caps.permitted, caps.bounding);
  assert.ok(!caps.inheritable?.length);
  assert.ok(!caps.ambient?.length);
});

test('CapAdd/CapDrop: with or without CAP_, any case', () => {
  const caps = spec({}, { CapAdd: ['net_admin', 'CAP_SYS_PTRACE'], CapDrop: ['mknod', 'CAP_NET_RAW'] }).process.capabilities.bounding;
  assert.ok(caps.includes('CAP_NET_ADMIN'));
  assert.ok(caps.includes('CAP_SYS_PTRACE'));
  assert.ok(!caps.includes('CAP_MKNOD'));
  assert.ok(!caps.includes('CAP_NET_RAW'));
  assert.equal(caps.length, 14);
});

test('CapDrop ALL keeps only CapAdd; CapAdd ALL is the host set minus CapDrop', () => {
  assert.deepEqual(spec({}, { CapDrop: ['ALL'], CapAdd: ['chown'] }).process.capabilities.bounding, ['CAP_CHOWN']);
  assert.deepEqual(spec({}, { CapDrop: ['all'] }).process.capabilities.bounding, []);
  const all = spec({}, { CapAdd: ['ALL'], CapDrop: ['SYS_ADMIN'] }, { hostCapabilities: HOST_CAPS_WITHOUT_SYS_RESOURCE }).process.capabilities.bounding;
  assert.equal(all.length, ALL_CAPABILITIES.length - 2);
  assert.ok(!all.includes('CAP_SYS_ADMIN'));
  assert.ok(!all.includes('CAP_SYS_RESOURCE'));
});

test('privileged gets exactly the host\'s bounding set, never more', () => {
  const s = spec({}, { Privileged: true }, { hostCapabilities: HOST_CAPS_WITHOUT_SYS_RESOURCE });
  assert.deepEqual(s.process.capabilities.bounding, HOST_CAPS_WITHOUT_SYS_RESOURCE);
  assert.ok(!s.process.capabilities.effective.includes('CAP_SYS_RESOURCE'));
});

test('default capabilities the host lacks are left out', () => {
  const host = DEFAULT_CAPABILITIES.filter((cap) => cap !== 'CAP_MKNOD');
  assert.deepEqual(spec({}, {}, { hostCapabilities: [...host] }).process.capabilities.bounding, host);
});

test('unknown or unavailable capabilities are Docker\'s 400s', () => {
  assert.throws(() => spec({}, { CapAdd: ['FOO'] }), isBadParameter('invalid CapAdd: unknown capability: "CAP_FOO"'));
  assert.throws(() => spec({}, { CapDrop: ['cap_bar'] }), isBadParameter('invalid CapDrop: unknown capability: "CAP_BAR"'));
  assert.throws(() => spec({}, { CapAdd: ['SYS_RESOURCE'] }, { hostCapabilities: HOST_CAPS_WITHOUT_SYS_RESOURCE }),
    isBadParameter('invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"'));
});

test('capabilitiesFromMask reads a CapBnd mask', () => {
  const caps = capabilitiesFromMask('000001fffeffffff');
  assert.deepEqual(caps, HOST_CAPS_WITHOUT_SYS_RESOURCE);
  assert.deepEqual(capabilitiesFromMask('0000000000000003'), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
});

// --------------------------------------------------------------------------------- mounts

test('Docker\'s default mounts, /dev/shm sized 64m by default or by ShmSize', () => {
  const s = spec();
  assert.deepEqual(s.mounts.slice(0, 7).map((m) => [m.destination, m.type]), [
    ['/proc', 'proc'], ['/dev', 'tmpfs'], ['/dev/pts', 'devpts'], ['/sys', 'sysfs'],
    ['/sys/fs/cgroup', 'cgroup'], ['/dev/mqueue', 'mqueue'], ['/dev/shm', 'tmpfs'],
  ]);
  assert.deepEqual(mount(s, '/dev')?.options, ['nosuid', 'strictatime', 'mode=755', 'size=65536k']);
  assert.deepEqual(mount(s, '/dev/pts')?.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
  assert.ok(mount(s, '/sys')?.options.includes('ro'));
  assert.ok(mount(s, '/sys/fs/cgroup')?.options.includes('ro'));
  assert.deepEqual(mount(s, '/dev/shm')?.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864']);
  assert.ok(mount(spec({}, { ShmSize: 1048576 }), '/dev/shm')?.options.includes('size=1048576'));
});

test('resolv.conf, hostname and hosts are rbind rprivate, read-only with a read-only rootfs', () => {
  const s = spec();
  assert.deepEqual(s.mounts.slice(7), [
    { destination: '/etc/resolv.conf', type: 'bind', source: `/var/lib/berth/containers/${ID}/resolv.conf`, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hostname', type: 'bind', source: `/var/lib/berth/containers/${ID}/hostname`, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: `/var/lib/berth/containers/${ID}/hosts`, options: ['rbind', 'rprivate'] },
  ]);
  const ro = spec({}, { ReadonlyRootfs: true });
  assert.deepEqual(mount(ro, '/etc/hosts')?.options, ['rbind', 'ro', 'rprivate']);
  assert.ok(!mount(ro, '/dev/shm')?.options.includes('ro'));
});

test('privileged: /sys and the cgroup mount writable', () => {
  const s = spec({}, { Privileged: true });
  assert.ok(!mount(s, '/sys')?.options.includes('ro'));
  assert.ok(!mount(s, '/sys/fs/cgroup')?.options.includes('ro'));
});

test('IpcMode none has no /dev/shm; IpcMode host binds the host\'s', () => {
  assert.equal(mount(spec({}, { IpcMode: 'none' }), '/dev/shm'), undefined);
  assert.deepEqual(mount(spec({}, { IpcMode: 'host' }), '/dev/shm'),
    { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
});

test('Tmpfs and user mounts replace defaults at the same place and come parents first', () => {
  const s = spec({}, { Tmpfs: { '/run': 'size=1m,exec' } }, {}, {
    mounts: [
      { type: 'bind', source: '/host/conf', destination: '/etc/app/conf', readonly: true },
      { type: 'bind', source: '/host/etc', destination: '/etc' },
      { type: 'tmpfs', destination: '/dev/shm', options: 'size=2m' },
    ],
  });
  const destinations = s.mounts.map((m) => m.destination);
  assert.equal(destinations.filter((d) => d === '/dev/shm').length, 1);
  assert.deepEqual(mount(s, '/dev/shm')?.options, ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=2m']);
  assert.deepEqual(mount(s, '/run')?.options, ['nosuid', 'nodev', 'rprivate', 'size=1m', 'exec']);
  assert.deepEqual(mount(s, '/etc/app/conf')?.options, ['rbind', 'ro', 'rprivate']);
  assert.ok(destinations.indexOf('/etc') < destinations.indexOf('/etc/app/conf'));
  assert.ok(destinations.indexOf('/etc') < destinations.indexOf('/etc/hosts'));
});

test('mergeTmpfsOptions keeps the last of conflicting options and refuses unknown ones', () => {
  assert.deepEqual(mergeTmpfsOptions(['noexec', 'nosuid', 'size=1m', 'exec', 'size=2m']), ['nosuid', 'exec', 'size=2m']);
  assert.throws(() => mergeTmpfsOptions(['bogus=1']), isBadParameter('invalid tmpfs option "bogus"'));
});

// ----------------------------------------------------------------------------- namespaces

test('default namespaces: mount, network, uts, pid, ipc (no cgroup ns on cgroup v1)', () => {
  assert.deepEqual(nsTypes(spec()), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.ok(spec().linux.namespaces.every((ns) => ns.path === undefined));
  assert.deepEqual(nsTypes(spec({}, {}, { cgroupNamespace: true })), ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup']);
});

test('a prepared network namespace is joined by path', () => {
  const s = spec({}, { NetworkMode: 'bridge' }, { networkNamespacePath: '/run/berth/netns/abc' });
  assert.deepEqual(s.linux.namespaces.find((ns) => ns.type === 'network'), { type: 'network', path: '/run/berth/netns/abc' });
  const joined = spec({}, { NetworkMode: 'container:other' }, { networkNamespacePath: '/proc/42/ns/net' });
  assert.equal(joined.linux.namespaces.find((ns) => ns.type === 'network')?.path, '/proc/42/ns/net');
  assert.throws(() => spec({}, { NetworkMode: 'container:other' }));
});

test('network host: no network namespace, UTS kept, no network sysctls', () => {
  const s = spec({ Hostname: 'myhost' }, { NetworkMode: 'host' });
  assert.deepEqual(nsTypes(s), ['mount', 'uts', 'pid', 'ipc']);
  assert.equal(s.hostname, 'myhost');
  assert.equal(s.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], undefined);
  assert.equal(spec().linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
  assert.equal(spec().linux.sysctl?.['net.ipv4.ping_group_range'], '0 2147483647');
});

test('pid/ipc/uts host modes remove their namespaces; container modes join', () => {
  assert.deepEqual(nsTypes(spec({}, { PidMode: 'host' })), ['mount', 'network', 'uts', 'ipc']);
  assert.deepEqual(nsTypes(spec({}, { IpcMode: 'host' })), ['mount', 'network', 'uts', 'pid']);
  const uts = spec({}, { UTSMode: 'host' });
  assert.deepEqual(nsTypes(uts), ['mount', 'network', 'pid', 'ipc']);
  assert.equal(uts.hostname, '');
  const joined = spec({}, { PidMode: 'container:x', IpcMode: 'container:x' }, { pidNamespacePath: '/proc/7/ns/pid', ipcNamespacePath: '/proc/7/ns/ipc' });
  assert.equal(joined.linux.namespaces.find((ns) => ns.type === 'pid')?.path, '/proc/7/ns/pid');
  assert.equal(joined.linux.namespaces.find((ns) => ns.type === 'ipc')?.path, '/proc/7/ns/ipc');
});

test('sysctls: HostConfig.Sysctls win; Domainname becomes kernel.domainname', () => {
  const s = spec({ Domainname: 'example.org' }, { Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024', 'net.core.somaxconn': '1024' } });
  assert.equal(s.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '1024');
  assert.equal(s.linux.sysctl?.['net.core.somaxconn'], '1024');
  assert.equal(s.linux.sysctl?.['kernel.domainname'], 'example.org');
});

// ------------------------------------------------------------------------------ resources

test('no resource limits by default, only the device rules', () => {
  const r = spec().linux.resources;
  assert.equal(r.memory, undefined);
  assert.equal(r.cpu, undefined);
  assert.equal(r.pids, undefined);
  assert.deepEqual(r.devices[0], { allow: false, access: 'rwm' });
  const allowed = r.devices.filter((d) => d.allow).map((d) => `${d.type} ${d.major}:${d.minor}`);
  assert.deepEqual(allowed.sort(), ['c 1:3', 'c 1:5', 'c 1:8', 'c 1:9', 'c 5:0', 'c 5:1']);
  assert.ok(r.devices.some((d) => !d.allow && d.major === 10 && d.minor === 229), 'fuse stays denied');
});

test('privileged allows every device', () => {
  const r = spec({}, { Privileged: true }).linux.resources;
  assert.deepEqual(r.devices.at(-1), { allow: true, access: 'rwm' });
});

test('memory: limit, default swap 2x, explicit swap, -1 unlimited, reservation', () => {
  assert.deepEqual(spec({}, { Memory: 64 * 1024 * 1024 }).linux.resources.memory, { limit: 67108864, swap: 134217728 });
  assert.deepEqual(spec({}, { Memory: 64 * 1024 * 1024, MemorySwap: 100 * 1024 * 1024 }).linux.resources.memory, { limit: 67108864, swap: 104857600 });
  assert.deepEqual(spec({}, { Memory: 64 * 1024 * 1024, MemorySwap: -1 }).linux.resources.memory, { limit: 67108864 });
  assert.deepEqual(spec({}, { MemoryReservation: 32 * 1024 * 1024 }).linux.resources.memory, { reservation: 33554432 });
  assert.deepEqual(spec({}, { OomKillDisable: true }).linux.resources.memory, { disableOOMKiller: true });
});

test('cpu: NanoCpus become quota/period; shares, explicit period/quota and cpuset pass through', () => {
  assert.deepEqual(spec({}, { NanoCpus: 1.5e9 }).linux.resources.cpu, { period: 100000, quota: 150000 });
  assert.deepEqual(spec({}, { NanoCpus: 0.01e9 }).linux.resources.cpu, { period: 100000, quota: 1000 });
  assert.deepEqual(spec({}, { CpuShares: 512, CpusetCpus: '0-1' }).linux.resources.cpu, { shares: 512, cpus: '0-1' });
  assert.deepEqual(spec({}, { CpuPeriod: 50000, CpuQuota: 25000 }).linux.resources.cpu, { period: 50000, quota: 25000 });
});

test('pids: a positive limit is kept, 0 or negative mean unlimited (-1)', () => {
  assert.deepEqual(spec({}, { PidsLimit: 100 }).linux.resources.pids, { limit: 100 });
  assert.deepEqual(spec({}, { PidsLimit: 0 }).linux.resources.pids, { limit: -1 });
  assert.equal(spec({}, { PidsLimit: null }).linux.resources.pids, undefined);
});

test('--device nodes and their cgroup rule', () => {
  const s = spec({}, {}, {}, { devices: [{ device: { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666 }, cgroupPermissions: 'rwm' }] });
  assert.deepEqual(s.linux.devices, [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666 }]);
  assert.deepEqual(s.linux.resources.devices.at(-1), { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' });
});

// ---------------------------------------------------------------------- masked, seccomp

test('masked and read-only paths, none when privileged', () => {
  const s = spec();
  for (const path of ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
    '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap']) {
    assert.ok(s.linux.maskedPaths?.includes(path), path);
  }
  assert.deepEqual(s.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  const privileged = spec({}, { Privileged: true });
  assert.equal(privileged.linux.maskedPaths, undefined);
  assert.equal(privileged.linux.readonlyPaths, undefined);
  assert.deepEqual(spec({}, { MaskedPaths: [], ReadonlyPaths: [] }).linux.maskedPaths, []);
});

test('seccomp: the daemon profile by default, filtered by the final capabilities', () => {
  const s = spec();
  assert.equal(s.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
  const mountAllowed = (x: OciSpec) => (x.linux.seccomp?.syscalls ?? []).some((r) => r.names.includes('mount') && r.action === 'SCMP_ACT_ALLOW');
  assert.ok(!mountAllowed(s));
  assert.ok(mountAllowed(spec({}, { CapAdd: ['SYS_ADMIN'] })));
  assert.ok(!mountAllowed(spec({}, { CapAdd: ['ALL'] }, { hostCapabilities: DEFAULT_CAPABILITIES.slice() })),
    'the host set caps what seccomp sees');
});

test('seccomp: none when privileged, unconfined by option or by the daemon; custom JSON profiles', () => {
  assert.equal(spec({}, { Privileged: true }).linux.seccomp, undefined);
  assert.equal(spec({}, { SecurityOpt: ['seccomp=unconfined'] }).linux.seccomp, undefined);
  assert.equal(spec({}, { SecurityOpt: ['seccomp:unconfined'] }).linux.seccomp, undefined);
  assert.equal(spec({}, {}, { seccompProfile: 'unconfined' }).linux.seccomp, undefined);
  assert.equal(spec({}, { SecurityOpt: ['seccomp=builtin'] }, { seccompProfile: 'unconfined' }).linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
  const custom = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] });
  assert.deepEqual(spec({}, { SecurityOpt: [`seccomp=${custom}`] }).linux.seccomp,
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] });
});

test('bad security options are Docker\'s 400s', () => {
  assert.throws(() => spec({}, { SecurityOpt: ['bogus'] }), isBadParameter('invalid --security-opt 1: "bogus"'));
  assert.throws(() => spec({}, { SecurityOpt: ['foo=bar'] }), isBadParameter('invalid --security-opt 2: "foo=bar"'));
  assert.throws(() => spec({}, { SecurityOpt: ['no-new-privileges=maybe'] }), isBadParameter('invalid --security-opt 2: "no-new-privileges=maybe"'));
});

// ------------------------------------------------------------------------------ validation

const HOST = { hostCpus: 2, hostCapabilities: HOST_CAPS_WITHOUT_SYS_RESOURCE };

test('validateHostConfig accepts an ordinary config', () => {
  assert.doesNotThrow(() => validateHostConfig({
    Memory: 64 * 1024 * 1024, MemorySwap: -1, NanoCpus: 2e9, CpuShares: 512, PidsLimit: 10, CpusetCpus: '0,1',
    CapAdd: ['NET_ADMIN'], RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, IpcMode: 'shareable',
    SecurityOpt: ['no-new-privileges'],
  }, HOST));
  assert.doesNotThrow(() => validateHostConfig({}, HOST));
});

test('validateHostConfig: memory', () => {
  assert.throws(() => validateHostConfig({ Memory: 4 * 1024 * 1024 }, HOST), isBadParameter('Minimum memory limit allowed is 6MB'));
  assert.throws(() => validateHostConfig({ Memory: 64 * 1024 * 1024, MemorySwap: 32 * 1024 * 1024 }, HOST),
    isBadParameter('Minimum memoryswap limit should be larger than memory limit, see usage'));
  assert.throws(() => validateHostConfig({ MemorySwap: 32 * 1024 * 1024 }, HOST),
    isBadParameter('You should always set the Memory limit when using Memoryswap limit, see usage'));
  assert.throws(() => validateHostConfig({ MemoryReservation: 1024 }, HOST), isBadParameter('Minimum memory reservation allowed is 6MB'));
  assert.throws(() => validateHostConfig({ Memory: 8 * 1024 * 1024, MemoryReservation: 16 * 1024 * 1024 }, HOST),
    isBadParameter('Minimum memory limit can not be less than memory reservation limit, see usage'));
});

test('validateHostConfig: cpu', () => {
  assert.throws(() => validateHostConfig({ NanoCpus: 1e9, CpuQuota: 50000 }, HOST),
    isBadParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set'));
  assert.throws(() => validateHostConfig({ NanoCpus: 1e9, CpuPeriod: 50000 }, HOST),
    isBadParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set'));
  assert.throws(() => validateHostConfig({ NanoCpus: 3e9 }, HOST),
    isBadParameter('Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'));
  assert.throws(() => validateHostConfig({ CpuPeriod: 500 }, HOST), isBadParameter(/^CPU cfs period can not be less than 1ms/));
  assert.throws(() => validateHostConfig({ CpuQuota: 500 }, HOST), isBadParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)'));
  assert.throws(() => validateHostConfig({ CpusetCpus: '0-3' }, HOST),
    isBadParameter('Requested CPUs are not available - requested 0-3, available: 0-1'));
  assert.throws(() => validateHostConfig({ CpusetCpus: 'abc' }, HOST), isBadParameter(/^Invalid value abc for cpuset cpus/));
});

test('validateHostConfig: capabilities, restart policy, modes, options', () => {
  assert.throws(() => validateHostConfig({ CapAdd: ['CAP_FOO'] }, HOST), isBadParameter('invalid CapAdd: unknown capability: "CAP_FOO"'));
  assert.throws(() => validateHostConfig({ CapAdd: ['sys_resource'] }, HOST), isBadParameter(/^invalid CapAdd: capability not supported/));
  assert.throws(() => validateHostConfig({ AutoRemove: true, RestartPolicy: { Name: 'always' } }, HOST),
    isBadParameter("can't create 'AutoRemove' container with restart policy"));
  assert.throws(() => validateHostConfig({ RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } }, HOST),
    isBadParameter("maximum retry count cannot be used with restart policy 'always'"));
  assert.throws(() => validateHostConfig({ IpcMode: 'weird' }, HOST), isBadParameter('invalid IPC mode: weird'));
  assert.throws(() => validateHostConfig({ PidMode: 'container:' }, HOST), isBadParameter('invalid PID mode: container:'));
  assert.throws(() => validateHostConfig({ UTSMode: 'private' }, HOST), isBadParameter('invalid UTS mode: private'));
  assert.throws(() => validateHostConfig({ ShmSize: -1 }, HOST), isBadParameter('SHM size can not be less than 0'));
  assert.throws(() => validateHostConfig({ SecurityOpt: ['seccomp={bad'] }, HOST), isBadParameter(/^Decoding seccomp profile failed/));
});

test('applyHostConfigDefaults: swap 2x memory, 64m shm, private ipc, oom killer on, json-file log', () => {
  assert.deepEqual(applyHostConfigDefaults({ Memory: 10 * 1024 * 1024 }), {
    Memory: 10485760, MemorySwap: 20971520, ShmSize: 67108864, IpcMode: 'private', OomKillDisable: false,
    LogConfig: { Type: 'json-file', Config: {} },
  });
  assert.equal(applyHostConfigDefaults({ Memory: 10 * 1024 * 1024, MemorySwap: -1 }).MemorySwap, -1);
});
