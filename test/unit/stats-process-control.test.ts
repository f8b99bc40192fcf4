// Unit tests for the pure parts of src/containers/process-control.ts: ps output filtered to a
// container's pids (top), and the update request's checks, merge and runtime resources.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../src/errdefs/errors.js';
import { statusOf } from '../../src/server/http-status.js';
import { mergeUpdate, parsePsOutput, runtimeResources, validatePsArgs, validateUpdate } from '../../src/containers/process-control.js';

const PS_EF = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:03 /sbin/init
root        4242    4230  0 10:01 ?        00:00:00 sh -c while true; do sleep 1; done
root        4250    4242  0 10:01 ?        00:00:00 sleep 1
root        5000       1  0 10:02 ?        00:00:00 /usr/sbin/sshd -D
`;

function throwsApi(action: () => unknown, status: number, message: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof EngineError, String(error));
    assert.equal(statusOf(error), status);
    assert.equal(error.message, message);
    return true;
  });
}

describe('top: ps output', () => {
  it("keeps the container's processes, the command as one last field", () => {
    assert.deepEqual(parsePsOutput(PS_EF, [4242, 4250]), {
      Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      Processes: [
        ['root', '4242', '4230', '0', '10:01', '?', '00:00:00', 'sh -c while true; do sleep 1; done'],
        ['root', '4250', '4242', '0', '10:01', '?', '00:00:00', 'sleep 1'],
      ],
    });
    assert.deepEqual(parsePsOutput(PS_EF, []).Processes, []);
  });

  it('keeps thread rows (ps m) after a kept process only', () => {
    const output = 'PID TTY STAT TIME COMMAND\n42 ? - 0:00 sleep\n- - S 0:00 -\n77 ? - 0:00 other\n- - S 0:00 -\n';
    assert.deepEqual(parsePsOutput(output, [42]).Processes, [['42', '?', '-', '0:00', 'sleep'], ['-', '-', 'S', '0:00', '-']]);
  });

  it("fails as Docker does without a PID column or with a PID that is not a number", () => {
    throwsApi(() => parsePsOutput('USER COMMAND\nroot sh\n', [1]), 500, "Couldn't find PID field in ps output");
    throwsApi(() => parsePsOutput('PID CMD\nabc sh\n', [1]), 500, 'Unexpected pid \'abc\': strconv.Atoi: parsing "abc": invalid syntax');
  });

  it('refuses to rename the PID column', () => {
    validatePsArgs('-o pid=PID,comm');
    validatePsArgs('aux');
    throwsApi(() => validatePsArgs('-o user=PID'), 500, 'specifying "user=PID" is not allowed');
  });
});

describe('update: checks', () => {
  const check = (update: Parameters<typeof validateUpdate>[0]) => validateUpdate(update, 2, '0');

  it("takes Docker's limits and words", () => {
    check({ Memory: 64 * 2 ** 20, NanoCpus: 5e8, PidsLimit: 10 });
    throwsApi(() => check({ Memory: 1 * 2 ** 20 }), 400, 'Minimum memory limit allowed is 6MB');
    throwsApi(() => check({ NanoCpus: 1e9, CpuPeriod: 100000 }), 400, 'Conflicting options: Nano CPUs and CPU Period cannot both be set');
    throwsApi(() => check({ NanoCpus: 3e9 }), 400, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
    throwsApi(() => check({ Memory: 64 * 2 ** 20, MemorySwap: 32 * 2 ** 20 }), 400, 'Minimum memoryswap limit should be larger than memory limit, see usage');
    throwsApi(() => check({ RestartPolicy: { Name: 'sometimes' as 'always' } }), 400, "invalid restart policy 'sometimes'");
    throwsApi(() => check({ CpusetCpus: '5' }), 400, 'Requested CPUs are not available - requested 5, available: 0-1');
    throwsApi(() => check({ CpusetMems: '1' }), 400, 'Requested memory nodes are not available - requested 1, available: 0');
    throwsApi(() => check({ CpusetMems: 'x' }), 400, 'Invalid value x for cpuset mems: invalid format: x');
  });

  it('allows a swap limit alone in an update', () => {
    check({ MemorySwap: 128 * 2 ** 20 });
  });
});

describe('update: merge into the host config', () => {
  it('changes only what the request sets', () => {
    const merged = mergeUpdate({ Memory: 32 * 2 ** 20, MemorySwap: 64 * 2 ** 20, CpuShares: 512, NetworkMode: 'none' }, {
      Memory: 48 * 2 ** 20, MemorySwap: 0, CpuShares: 0, NanoCpus: 5e8, CpusetCpus: '', PidsLimit: 20, BlkioWeight: 0,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
    });
    assert.deepEqual(merged, {
      Memory: 48 * 2 ** 20, MemorySwap: 64 * 2 ** 20, CpuShares: 512, NetworkMode: 'none', NanoCpus: 5e8, PidsLimit: 20,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
    });
    assert.deepEqual(mergeUpdate({ PidsLimit: 20 }, { PidsLimit: null }), { PidsLimit: 20 });
    assert.deepEqual(mergeUpdate({ RestartPolicy: { Name: 'always' } }, { RestartPolicy: { Name: '' } }), { RestartPolicy: { Name: 'always' } });
  });

  it('refuses what Docker refuses', () => {
    assert.throws(() => mergeUpdate({}, { Memory: 64 * 2 ** 20 }),
      { message: 'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time' });
    assert.deepEqual(mergeUpdate({}, { Memory: 64 * 2 ** 20, MemorySwap: -1 }), { Memory: 64 * 2 ** 20, MemorySwap: -1 });
    assert.throws(() => mergeUpdate({ CpuPeriod: 100000 }, { NanoCpus: 1e9 }),
      { message: 'Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set' });
    assert.throws(() => mergeUpdate({ NanoCpus: 1e9 }, { CpuQuota: 50000 }),
      { message: 'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set' });
    assert.throws(() => mergeUpdate({ AutoRemove: true }, { RestartPolicy: { Name: 'always' } }),
      { message: 'Restart policy cannot be updated because AutoRemove is enabled for the container' });
    assert.deepEqual(mergeUpdate({ AutoRemove: true }, { RestartPolicy: { Name: 'no' } }), { AutoRemove: true, RestartPolicy: { Name: 'no' } });
  });
});

describe('update: what the runtime gets', () => {
  it('sends only the set fields, NanoCpus as a 100 ms period and its quota', () => {
    assert.deepEqual(runtimeResources({ Memory: 0, CpuShares: 0, CpusetCpus: '', NanoCpus: 5e8 }), { cpu: { period: 100000, quota: 50000 } });
    assert.deepEqual(runtimeResources({ Memory: 48 * 2 ** 20, MemorySwap: -1, MemoryReservation: 8 * 2 ** 20 }),
      { memory: { limit: 48 * 2 ** 20, reservation: 8 * 2 ** 20 } });
    assert.deepEqual(runtimeResources({ CpuQuota: 20000, CpuPeriod: 50000, CpusetCpus: '0', CpusetMems: '0', CpuShares: 256 }),
      { cpu: { cpus: '0', mems: '0', shares: 256, period: 50000, quota: 20000 } });
    assert.deepEqual(runtimeResources({ PidsLimit: -1, BlkioWeight: 300 }), { blockIO: { weight: 300 }, pids: { limit: -1 } });
    assert.deepEqual(runtimeResources({ PidsLimit: 0 }), { pids: { limit: -1 } });
    assert.deepEqual(runtimeResources({ RestartPolicy: { Name: 'always' } }), {});
  });
});
