// nsExecFields / nsExecUnsupported / capabilityMask: what berthd asks its process helper to run in a container.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilityMask } from '../../src/runtime/capabilities.js';
import { nsExecFields, nsExecUnsupported } from '../../src/runtime/ns-exec.js';
import type { OciProcess } from '../../src/runtime/oci-types.js';

const PROCESS: OciProcess = {
  terminal: false,
  user: { uid: 1000, gid: 1001, additionalGids: [1001, 5] },
  args: ['sh', '-c', 'echo "a b"'],
  env: ['PATH=/bin', 'A=1'],
  cwd: '/work',
  capabilities: { bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_CHOWN', 'CAP_KILL'], ambient: ['CAP_CHECKPOINT_RESTORE'] },
  noNewPrivileges: true,
  oomScoreAdj: 300,
};

test('capabilityMask: bits by the kernel\'s numbers, in hex; an unknown name is refused', () => {
  assert.equal(capabilityMask([]), '0');
  assert.equal(capabilityMask(undefined), '0');
  assert.equal(capabilityMask(['CAP_CHOWN']), '1');
  assert.equal(capabilityMask(['CAP_KILL', 'CAP_CHOWN']), '21');
  assert.equal(capabilityMask(['CAP_CHECKPOINT_RESTORE']), '10000000000');
  assert.throws(() => capabilityMask(['CAP_NOPE']), /unknown capability CAP_NOPE/);
});

test('nsExecFields: native/ns-exec.c\'s order, then the environment counted, then argv as it is', () => {
  const fields = nsExecFields('/run/x/exec-io.sock', 'tok', { containerPid: 42, seccompFilter: '/state/seccomp.bpf', process: PROCESS, stdin: true, stdout: true, stderr: false });
  assert.deepEqual(fields, [
    '/run/x/exec-io.sock', 'tok', '42', '/state/seccomp.bpf', 'oi',
    '1000', '1001', '1001,5',
    '21', '20', '21', '0', '10000000000',
    '1', '/work', '2', 'PATH=/bin', 'A=1', 'sh', '-c', 'echo "a b"',
  ]);
  const unconfined = nsExecFields('/s', 't', { containerPid: 1, seccompFilter: undefined, process: { ...PROCESS, noNewPrivileges: false }, stdin: false, stdout: false, stderr: true });
  assert.deepEqual([unconfined[3], unconfined[4], unconfined[13]], ['', 'e', '0']);
});

test('nsExecUnsupported: a terminal, rlimits and an AppArmor profile stay with the runtime', () => {
  assert.equal(nsExecUnsupported(PROCESS), undefined);
  assert.equal(nsExecUnsupported({ ...PROCESS, terminal: true }), 'a terminal');
  assert.equal(nsExecUnsupported({ ...PROCESS, rlimits: [{ type: 'RLIMIT_NOFILE', hard: 10, soft: 10 }] }), 'rlimits');
  assert.equal(nsExecUnsupported({ ...PROCESS, rlimits: [] }), undefined);
  assert.equal(nsExecUnsupported({ ...PROCESS, apparmorProfile: 'docker-default' }), 'an AppArmor profile');
});
