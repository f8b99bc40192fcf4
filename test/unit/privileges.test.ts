// The pure parts of privileges and user namespaces: sysctl checks, device parsing, device cgroup
// rules, shared namespaces, capability sets for --privileged, ID-mapping arithmetic, the
// --userns-remap specification, and what the OCI spec gets from them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../../src/errdefs/errors.js';
import { deviceNumbers, gatherDevices, hostDevices, parseDeviceCgroupRule, validDeviceMode } from '../../src/containers/devices.js';
import { sharedNamespaces, validatePrivilegeOptions, validateSysctls, type NamespaceDonor } from '../../src/containers/security-checks.js';
import { ALL_CAPABILITIES, buildOciSpec, capabilitiesFromMask, containerCapabilities, type SpecInput } from '../../src/containers/spec.js';
import { loadDefaultProfile } from '../../src/containers/seccomp.js';
import { parseDeviceFlag } from '../../src/cli/commands/run-options.js';
import { sysctlNotWhitelisted } from '../../src/util/sysctl.js';
import { mappingsFromRanges, nextFreeRangeStart, shiftOwner, subordinateRanges, toContainerId, toHostId } from '../../src/util/id-mappings.js';
import { parseRemapSpec, remappedRoot } from '../../src/daemon/userns-remap.js';
import { mergeConfig, parseDaemonArgs } from '../../src/daemon/config.js';

const badParameter = (pattern: RegExp) => (error: unknown) => error instanceof EngineError && error.kind === 'invalid-parameter' && pattern.test(error.message);

test('sysctls: the CLI allows only namespaced ones, as the docker CLI does', () => {
  for (const ok of ['net.ipv4.ip_forward=1', 'kernel.shmmax=1', 'kernel.sem=1 2 3 4', 'fs.mqueue.msg_max=20', 'kernel.shm_rmid_forced=1']) {
    assert.equal(sysctlNotWhitelisted(ok), undefined, ok);
  }
  assert.equal(sysctlNotWhitelisted('kernel.hostname=x'), "sysctl 'kernel.hostname=x' is not allowed");
  assert.equal(sysctlNotWhitelisted('vm.swappiness=1'), "sysctl 'vm.swappiness=1' is not allowed");
  assert.equal(sysctlNotWhitelisted('net.ipv4.ip_forward'), "sysctl 'net.ipv4.ip_forward' is not allowed");
});

test('sysctls: the daemon refuses what the container\'s namespaces do not hold', () => {
  validateSysctls({ Sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '1', 'kernel.domainname': 'x' } });
  assert.throws(() => validateSysctls({ NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } }),
    badParameter(/^sysctl "net.ipv4.ip_forward" is not allowed in the hosts network namespace$/));
  assert.throws(() => validateSysctls({ IpcMode: 'host', Sysctls: { 'fs.mqueue.msg_max': '1' } }),
    badParameter(/^sysctl "fs.mqueue.msg_max" is not allowed in the hosts ipc namespace$/));
  assert.throws(() => validateSysctls({ Sysctls: { 'vm.swappiness': '1' } }), badParameter(/^sysctl "vm.swappiness" is not in a separate kernel namespace$/));
  assert.throws(() => validateSysctls({ Sysctls: { 'kernel.hostname': 'x' } }), badParameter(/conflicts with the OCI "hostname" field/));
});

test('namespace modes, device rules and privileged with a remapped root are checked at create', () => {
  validatePrivilegeOptions({ CgroupnsMode: 'private', UsernsMode: 'host', DeviceCgroupRules: ['c 1:3 mr', 'a *:* rwm', 'b 8:* rw'] }, { usernsRemap: false });
  assert.throws(() => validatePrivilegeOptions({ CgroupnsMode: 'shared' }, { usernsRemap: false }), badParameter(/^invalid cgroup namespace mode: shared$/));
  assert.throws(() => validatePrivilegeOptions({ UsernsMode: 'private' }, { usernsRemap: false }), badParameter(/^invalid USER mode: private$/));
  assert.throws(() => validatePrivilegeOptions({ DeviceCgroupRules: ['x 1:3 r'] }, { usernsRemap: false }), badParameter(/^invalid device cgroup rule format: 'x 1:3 r'$/));
  assert.throws(() => validatePrivilegeOptions({ Privileged: true }, { usernsRemap: true }), badParameter(/privileged mode is incompatible with user namespaces/));
  validatePrivilegeOptions({ Privileged: true, UsernsMode: 'host' }, { usernsRemap: true });
});

test('device cgroup rules and device modes', () => {
  assert.deepEqual(parseDeviceCgroupRule('c 1:3 mr'), { allow: true, type: 'c', major: 1, minor: 3, access: 'mr' });
  assert.deepEqual(parseDeviceCgroupRule('a *:* rwm'), { allow: true, type: 'a', access: 'rwm' });
  assert.deepEqual(parseDeviceCgroupRule('b 8:* rw'), { allow: true, type: 'b', major: 8, access: 'rw' });
  for (const bad of ['c 1:3', 'c 1:3 rwx', 'c a:3 r', 'c 1:3 rwmr', '']) assert.throws(() => parseDeviceCgroupRule(bad), badParameter(/invalid device cgroup rule format/));
  assert.ok(validDeviceMode('rwm') && validDeviceMode('r') && validDeviceMode('mw'));
  assert.ok(!validDeviceMode('') && !validDeviceMode('rr') && !validDeviceMode('rx') && !validDeviceMode('rwmr'));
});

test('--device host[:container][:mode] as the docker CLI parses it', () => {
  assert.deepEqual(parseDeviceFlag('/dev/null'), { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rwm' });
  assert.deepEqual(parseDeviceFlag('/dev/null:/dev/n'), { PathOnHost: '/dev/null', PathInContainer: '/dev/n', CgroupPermissions: 'rwm' });
  assert.deepEqual(parseDeviceFlag('/dev/null:r'), { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'r' });
  assert.deepEqual(parseDeviceFlag('/dev/null:/dev/n:rw'), { PathOnHost: '/dev/null', PathInContainer: '/dev/n', CgroupPermissions: 'rw' });
  assert.throws(() => parseDeviceFlag('/dev/null:/dev/n:rwx'), /bad mode specified: rwx/);
  assert.throws(() => parseDeviceFlag('a:b:c:d'), /invalid device specification/);
  assert.throws(() => parseDeviceFlag('null'), /null is not an absolute path/);
});

test('device numbers from a dev_t, and host devices gathered as moby does', async () => {
  assert.deepEqual(deviceNumbers(0x103), { major: 1, minor: 3 });
  assert.deepEqual(deviceNumbers(0x880), { major: 8, minor: 128 });
  assert.deepEqual(deviceNumbers(0x25905), { major: 0x259, minor: 5 });
  assert.deepEqual(deviceNumbers((0x1000n << 32n) | 0x100000n), { major: 0x1000, minor: 0x100 });
  const [nul] = await gatherDevices({ PathOnHost: '/dev/null', PathInContainer: '/dev/n', CgroupPermissions: 'r' });
  assert.deepEqual({ ...nul.device, fileMode: undefined, uid: undefined, gid: undefined }, { path: '/dev/n', type: 'c', major: 1, minor: 3, fileMode: undefined, uid: undefined, gid: undefined });
  assert.equal(nul.cgroupPermissions, 'r');
  await assert.rejects(gatherDevices({ PathOnHost: '/dev/nope', PathInContainer: '/dev/nope', CgroupPermissions: 'rwm' }),
    badParameter(/^error gathering device information while adding custom device "\/dev\/nope": no such file or directory$/));
  const dir = mkdtempSync(join(tmpdir(), 'berth-devices-'));
  try {
    mkdirSync(join(dir, 'sub'));
    symlinkSync('/dev/null', join(dir, 'sub', 'nul'));
    writeFileSync(join(dir, 'plain'), '');
    await assert.rejects(gatherDevices({ PathOnHost: join(dir, 'plain'), PathInContainer: '/x', CgroupPermissions: 'rwm' }), badParameter(/not a device node/));
    // A symlink to a device is followed; a directory of only links has no device nodes.
    assert.equal((await gatherDevices({ PathOnHost: join(dir, 'sub', 'nul'), PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }))[0].device.major, 1);
    await assert.rejects(gatherDevices({ PathOnHost: join(dir, 'sub'), PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }), badParameter(/not a device node/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const all = await hostDevices();
  assert.ok(all.some((d) => d.path === '/dev/null' && d.type === 'c'));
  assert.ok(!all.some((d) => d.path.startsWith('/dev/pts/') || d.path === '/dev/console'));
});

test('--ipc/--pid container:x: the donor must run and lend a shareable IPC', () => {
  const donors: Record<string, NamespaceDonor> = {
    shareable: { id: 'a'.repeat(64), running: true, pid: 42, ipcMode: 'shareable', shmPath: '/data/a/shm' },
    private: { id: 'b'.repeat(64), running: true, pid: 43, ipcMode: 'private', shmPath: '/data/b/shm' },
    stopped: { id: 'c'.repeat(64), running: false, pid: 0, ipcMode: 'shareable', shmPath: '/data/c/shm' },
    host: { id: 'd'.repeat(64), running: true, pid: 44, ipcMode: 'host', shmPath: '/data/d/shm' },
  };
  const find = (name: string) => donors[name];
  assert.deepEqual(sharedNamespaces({ IpcMode: 'container:shareable', PidMode: 'container:private' }, find),
    { ipcNamespacePath: '/proc/42/ns/ipc', shmPath: '/data/a/shm', pidNamespacePath: '/proc/43/ns/pid' });
  assert.deepEqual(sharedNamespaces({ IpcMode: 'container:host' }, find), { ipcNamespacePath: '/proc/44/ns/ipc', shmPath: '/dev/shm' });
  assert.throws(() => sharedNamespaces({ IpcMode: 'container:private' }, find), /non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/);
  assert.throws(() => sharedNamespaces({ IpcMode: 'container:stopped' }, find), /cannot join IPC of a non running container: c{64}/);
  assert.throws(() => sharedNamespaces({ PidMode: 'container:stopped' }, find), /cannot join PID of a non running container: c{64}/);
  assert.deepEqual(sharedNamespaces({ IpcMode: 'private', PidMode: 'host' }, find), {});
});

test('--privileged: every capability of the host\'s bounding set, and no more', () => {
  const withoutSysResource = capabilitiesFromMask('000001fffeffffff');
  assert.ok(!withoutSysResource.includes('CAP_SYS_RESOURCE'));
  assert.equal(withoutSysResource.length, ALL_CAPABILITIES.length - 1);
  assert.deepEqual(containerCapabilities({ Privileged: true }, withoutSysResource), withoutSysResource);
  assert.throws(() => containerCapabilities({ CapAdd: ['SYS_RESOURCE'] }, withoutSysResource), badParameter(/not available in the current environment: "CAP_SYS_RESOURCE"/));
  assert.throws(() => containerCapabilities({ CapAdd: ['FOO'] }, withoutSysResource), badParameter(/^invalid CapAdd: unknown capability: "CAP_FOO"$/));
});

function specInput(hostConfig: SpecInput['hostConfig'], daemon: Partial<SpecInput['daemon']> = {}, extra: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'f'.repeat(64), config: { Hostname: 'ffffffffffff', Cmd: ['sh'] }, hostConfig,
    rootfsPath: '/r', hostsPath: '/h', hostnamePath: '/n', resolvConfPath: '/c', user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    daemon: { cgroupParent: 'berth', seccompProfile: loadDefaultProfile(), hostCapabilities: [...ALL_CAPABILITIES], arch: 'x64', kernelVersion: '6.1.0', ...daemon },
    ...extra,
  };
}

test('the spec: privileged gets host devices and allows all, no seccomp, no masks, /sys writable', () => {
  const hostDevice = { path: '/dev/loop0', type: 'b' as const, major: 7, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
  const spec = buildOciSpec(specInput({ Privileged: true }, { hostDevices: [hostDevice] }));
  assert.deepEqual(spec.linux.devices, [hostDevice]);
  assert.deepEqual(spec.linux.resources.devices.at(-1), { allow: true, access: 'rwm' });
  assert.equal(spec.linux.seccomp, undefined);
  assert.equal(spec.linux.maskedPaths, undefined);
  assert.equal(spec.linux.readonlyPaths, undefined);
  assert.ok(!spec.mounts.find((m) => m.destination === '/sys')!.options.includes('ro'));
});

test('the spec: --device nodes with their cgroup rule, and --device-cgroup-rule after Docker\'s defaults', () => {
  const device = { path: '/dev/n', type: 'c' as const, major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 };
  const spec = buildOciSpec(specInput({ DeviceCgroupRules: ['c 42:* rm'] }, {}, { devices: [{ device, cgroupPermissions: 'rw' }] }));
  assert.deepEqual(spec.linux.devices, [device]);
  const rules = spec.linux.resources.devices;
  assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
  assert.deepEqual(rules.slice(-2), [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: true, type: 'c', major: 42, access: 'rm' }]);
});

test('the spec: a user namespace with the remapped IDs unless UsernsMode is host; ping range within the mapped groups', () => {
  const idMappings = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] };
  const remapped = buildOciSpec(specInput({}, { idMappings }));
  assert.ok(remapped.linux.namespaces.some((ns) => ns.type === 'user'));
  assert.deepEqual(remapped.linux.uidMappings, idMappings.uidMappings);
  assert.deepEqual(remapped.linux.gidMappings, idMappings.gidMappings);
  assert.equal(remapped.linux.sysctl?.['net.ipv4.ping_group_range'], '0 65535');
  const host = buildOciSpec(specInput({ UsernsMode: 'host' }, { idMappings }));
  assert.ok(!host.linux.namespaces.some((ns) => ns.type === 'user'));
  assert.equal(host.linux.uidMappings, undefined);
  assert.equal(host.linux.sysctl?.['net.ipv4.ping_group_range'], '0 2147483647');
  const joined = buildOciSpec(specInput({ IpcMode: 'container:x', PidMode: 'container:y' }, { ipcNamespacePath: '/proc/1/ns/ipc', pidNamespacePath: '/proc/2/ns/pid', shmPath: '/d/shm' }));
  assert.equal(joined.linux.namespaces.find((ns) => ns.type === 'ipc')?.path, '/proc/1/ns/ipc');
  assert.equal(joined.linux.namespaces.find((ns) => ns.type === 'pid')?.path, '/proc/2/ns/pid');
  assert.equal(joined.mounts.find((m) => m.destination === '/dev/shm')?.source, '/d/shm');
});

test('ID mappings: subordinate ranges, end to end from 0, both directions, and shifting owners', () => {
  const subuid = '# comment\nalice:100000:65536\n1001:300000:1000\nbob:200000:65536\nalice:500000:10\n';
  assert.deepEqual(subordinateRanges(subuid, ['alice']), [{ start: 100000, count: 65536 }, { start: 500000, count: 10 }]);
  assert.deepEqual(subordinateRanges(subuid, ['carol', '1001']), [{ start: 300000, count: 1000 }]);
  assert.deepEqual(subordinateRanges(subuid, ['nobody']), []);
  const mappings = mappingsFromRanges([{ start: 500000, count: 10 }, { start: 100000, count: 65536 }]);
  assert.deepEqual(mappings, [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 500000, size: 10 }]);
  assert.equal(toHostId(0, mappings), 100000);
  assert.equal(toHostId(65535, mappings), 165535);
  assert.equal(toHostId(65536, mappings), 500000);
  assert.equal(toHostId(65546, mappings), undefined);
  assert.equal(toContainerId(500009, mappings), 65545);
  assert.equal(toContainerId(99999, mappings), undefined);
  const both = { uidMappings: mappings, gidMappings: mappings };
  assert.deepEqual(shiftOwner({ uid: 1000, gid: 50 }, both), { uid: 101000, gid: 100050 });
  assert.throws(() => shiftOwner({ uid: 70000, gid: 0 }, both), /Container ID 70000 cannot be mapped to a host ID/);
  assert.equal(nextFreeRangeStart([], 65536), 100000);
  assert.equal(nextFreeRangeStart([{ start: 100000, count: 65536 }, { start: 165536, count: 65536 }], 65536), 231072);
  assert.equal(nextFreeRangeStart([{ start: 300000, count: 10 }], 65536), 100000);
});

test('--userns-remap: user[:group], uid[:gid] and default, with Docker\'s errors', () => {
  const etc = {
    passwd: 'root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n',
    group: 'root:x:0:\nalice:x:1001:\nstaff:x:50:\n',
    subuid: 'alice:100000:65536\n', subgid: 'staff:200000:65536\n',
  };
  assert.deepEqual(parseRemapSpec('alice', etc), { user: 'alice', group: 'alice' });
  assert.deepEqual(parseRemapSpec('alice:staff', etc), { user: 'alice', group: 'staff' });
  assert.deepEqual(parseRemapSpec('1001', etc), { user: 'alice', group: 'alice' });
  assert.deepEqual(parseRemapSpec('1001:50', etc), { user: 'alice', group: 'staff' });
  assert.equal(parseRemapSpec('default', etc), undefined);
  assert.throws(() => parseRemapSpec('a:b:c', etc), /Invalid user\/group specification in --userns-remap: "a:b:c"/);
  assert.throws(() => parseRemapSpec('carol', etc), /Error during uid lookup for "carol"/);
  assert.throws(() => parseRemapSpec('4242', etc), /Uid 4242 has no entry in \/etc\/passwd/);
  const root = remappedRoot('alice', 'staff', etc);
  assert.deepEqual(root.root, { uid: 100000, gid: 200000 });
  assert.deepEqual(root.mappings.gidMappings, [{ containerID: 0, hostID: 200000, size: 65536 }]);
  assert.throws(() => remappedRoot('alice', 'alice', etc), /^Error: Can't create ID mappings: No subgid ranges found for group "alice"/);
  assert.throws(() => remappedRoot('root', 'staff', etc), /No subuid ranges found for user "root"/);
});

test('--userns-remap is a daemon flag and a daemon.json key, off by default', () => {
  assert.equal(mergeConfig({}, undefined).usernsRemap, '');
  assert.equal(mergeConfig(parseDaemonArgs(['--userns-remap', 'default']).flags, undefined).usernsRemap, 'default');
  assert.equal(mergeConfig({}, '{"userns-remap": "alice:staff"}').usernsRemap, 'alice:staff');
});
