// Docker's seccomp profile turned into OCI rules: arch, capability and kernel conditions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultProfileCandidates, loadDefaultProfile, parseSeccompProfile, seccompFromDockerProfile,
  type DockerSeccompProfile,
} from '../../src/containers/seccomp.js';
import type { OciSeccomp } from '../../src/runtime/oci-types.js';

const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

function rulesFor(seccomp: OciSeccomp, name: string) {
  return (seccomp.syscalls ?? []).filter((rule) => rule.names.includes(name));
}

/** Allowed whatever the arguments. */
function allowedOutright(seccomp: OciSeccomp, name: string): boolean {
  return rulesFor(seccomp, name).some((rule) => rule.action === 'SCMP_ACT_ALLOW' && !rule.args?.length);
}

const build = (caps: string[], arch = 'x64', kernelVersion = '6.1.0-18-amd64') =>
  seccompFromDockerProfile(loadDefaultProfile(), { arch, capabilities: caps, kernelVersion });

test('the default profile loads and keeps its default action', () => {
  const profile = loadDefaultProfile();
  assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok((profile.syscalls ?? []).length > 10);
  const seccomp = build(DEFAULT_CAPS);
  assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(seccomp.defaultErrnoRet, 1);
});

test('architectures come from the archMap entry of the host arch', () => {
  assert.deepEqual(build(DEFAULT_CAPS, 'x64').architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(build(DEFAULT_CAPS, 'arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.deepEqual(build(DEFAULT_CAPS, 'riscv64').architectures, ['SCMP_ARCH_RISCV64']);
});

test('arch-specific syscalls follow the arch', () => {
  assert.ok(allowedOutright(build(DEFAULT_CAPS, 'x64'), 'arch_prctl'));
  assert.ok(!allowedOutright(build(DEFAULT_CAPS, 'arm64'), 'arch_prctl'));
  assert.ok(allowedOutright(build(DEFAULT_CAPS, 'arm64'), 'breakpoint'));
  assert.ok(!allowedOutright(build(DEFAULT_CAPS, 'x64'), 'breakpoint'));
});

test('mount, unshare, setns, sethostname need CAP_SYS_ADMIN', () => {
  const plain = build(DEFAULT_CAPS);
  const admin = build([...DEFAULT_CAPS, 'CAP_SYS_ADMIN']);
  for (const name of ['mount', 'umount2', 'unshare', 'setns', 'sethostname']) {
    assert.ok(!allowedOutright(plain, name), `${name} without CAP_SYS_ADMIN`);
    assert.ok(allowedOutright(admin, name), `${name} with CAP_SYS_ADMIN`);
  }
});

test('clone is argument-filtered without CAP_SYS_ADMIN, free with it; clone3 answers ENOSYS', () => {
  const plain = build(DEFAULT_CAPS);
  const cloneRules = rulesFor(plain, 'clone');
  assert.equal(cloneRules.length, 1);
  assert.equal(cloneRules[0].action, 'SCMP_ACT_ALLOW');
  // amd64 passes clone flags in argument 0 (the s390 rule, argument 1, is left out).
  assert.deepEqual(cloneRules[0].args, [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.deepEqual(rulesFor(plain, 'clone3').map((r) => [r.action, r.errnoRet]), [['SCMP_ACT_ERRNO', 38]]);

  const admin = build([...DEFAULT_CAPS, 'CAP_SYS_ADMIN']);
  assert.ok(allowedOutright(admin, 'clone'));
  assert.ok(rulesFor(admin, 'clone').every((rule) => !rule.args?.length));
  assert.ok(allowedOutright(admin, 'clone3'));
  assert.ok(!rulesFor(admin, 'clone3').some((rule) => rule.action === 'SCMP_ACT_ERRNO'));

  const s390 = build(DEFAULT_CAPS, 's390x');
  assert.deepEqual(rulesFor(s390, 'clone')[0].args, [{ index: 1, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }]);
});

test('ptrace: allowed from kernel 4.8, before that only with CAP_SYS_PTRACE; kcmp always needs it', () => {
  assert.ok(allowedOutright(build(DEFAULT_CAPS, 'x64', '6.18.0'), 'ptrace'));
  assert.ok(!allowedOutright(build(DEFAULT_CAPS, 'x64', '4.4.0-210-generic'), 'ptrace'));
  assert.ok(allowedOutright(build([...DEFAULT_CAPS, 'CAP_SYS_PTRACE'], 'x64', '4.4.0'), 'ptrace'));
  assert.ok(!allowedOutright(build(DEFAULT_CAPS), 'kcmp'));
  assert.ok(allowedOutright(build([...DEFAULT_CAPS, 'CAP_SYS_PTRACE']), 'kcmp'));
});

test('other capability-gated syscalls', () => {
  const plain = build(DEFAULT_CAPS);
  assert.ok(allowedOutright(plain, 'chroot'), 'CAP_SYS_CHROOT is a default capability');
  assert.ok(!allowedOutright(build(DEFAULT_CAPS.filter((c) => c !== 'CAP_SYS_CHROOT')), 'chroot'));
  assert.ok(!allowedOutright(plain, 'reboot'));
  assert.ok(allowedOutright(build([...DEFAULT_CAPS, 'CAP_SYS_BOOT']), 'reboot'));
  assert.ok(allowedOutright(plain, 'read'));
});

test('no Docker-only fields leak into the OCI rules', () => {
  for (const rule of build(DEFAULT_CAPS).syscalls ?? []) {
    assert.deepEqual(Object.keys(rule).filter((k) => !['names', 'action', 'errnoRet', 'args'].includes(k)), []);
  }
});

test('includes needs every listed cap, excludes drops on any; the legacy name field works', () => {
  const profile: DockerSeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['both'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_A', 'CAP_B'] } },
      { names: ['unlessany'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_A', 'CAP_Z'] } },
      { name: 'legacy', action: 'SCMP_ACT_LOG' },
      { names: ['newkernel'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.10' } },
    ],
  };
  const onlyA = seccompFromDockerProfile(profile, { arch: 'x64', capabilities: ['CAP_A'], kernelVersion: '5.4.0' });
  assert.deepEqual(onlyA.syscalls?.map((r) => r.names[0]), ['legacy', 'newkernel']);
  assert.deepEqual(onlyA.architectures, ['SCMP_ARCH_X86_64']);
  const ab = seccompFromDockerProfile(profile, { arch: 'x64', capabilities: ['CAP_A', 'CAP_B'], kernelVersion: '5.10.1' });
  assert.deepEqual(ab.syscalls?.map((r) => r.names[0]), ['both', 'legacy']);
  const none = seccompFromDockerProfile(profile, { arch: 'x64', capabilities: [], kernelVersion: '5.4' });
  assert.deepEqual(none.syscalls?.map((r) => r.names[0]), ['unlessany', 'legacy', 'newkernel']);
});

test('profiles with both forms of a field are refused, as Docker does', () => {
  assert.throws(() => seccompFromDockerProfile({
    defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'],
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }],
  }, { arch: 'x64', capabilities: [] }), /both 'architectures' and 'archMap'/);
  assert.throws(() => seccompFromDockerProfile({
    defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }],
  }, { arch: 'x64', capabilities: [] }), /both 'name' and 'names'/);
  assert.throws(() => parseSeccompProfile('{nope'), /^Error: Decoding seccomp profile failed/);
});

test('loader candidates: next to the module first, then source fallbacks, then the working directory', () => {
  const candidates = defaultProfileCandidates('file:///opt/berth/dist/tsc/src/containers/seccomp.js', '/work');
  assert.equal(candidates[0], '/opt/berth/dist/tsc/src/containers/seccomp-default.json');
  assert.ok(candidates.includes('/opt/berth/src/containers/seccomp-default.json'));
  assert.equal(candidates.at(-2), '/work/src/containers/seccomp-default.json');
  const bundled = defaultProfileCandidates('file:///opt/berth/dist/berthd.js', '/');
  assert.equal(bundled[0], '/opt/berth/dist/seccomp-default.json');
});
