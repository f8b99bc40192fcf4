// Unit tests for the stats figures as the docker CLI computes and prints them
// (src/cli/commands/process.ts) and for the daemon's answer shapes (src/containers/stats.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatsResponse } from '../../src/wire/types.js';
import {
  calculateBlockIo, calculateCpuPercentUnix, calculateMemPercentUnixNoCache, calculateMemUsageUnixNoCache, calculateNetwork,
  formatTop, renderStats, statsEntry, statsRow, streamFrame, type StatsEntry,
} from '../../src/cli/commands/process.js';
import { composeStats, zeroStats } from '../../src/containers/stats.js';

function sample(): ContainerStatsResponse {
  return {
    ...zeroStats('/web', '0123456789abcdef'.repeat(4)),
    read: '2024-01-01T00:00:01Z', preread: '2024-01-01T00:00:00Z',
    pids_stats: { current: 3 },
    cpu_stats: {
      cpu_usage: { total_usage: 1_123_500_000, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 12e9, online_cpus: 2,
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    },
    precpu_stats: {
      cpu_usage: { total_usage: 1_000_000_000, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 10e9, online_cpus: 2,
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    },
    memory_stats: { usage: 100 * 2 ** 20 + 4096, stats: { total_inactive_file: 4096 }, limit: 2 ** 30 },
    blkio_stats: {
      ...zeroStats('', '').blkio_stats,
      io_service_bytes_recursive: [
        { major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 },
        { major: 8, minor: 0, op: 'Total', value: 12288 },
      ],
    },
    networks: {
      eth0: { rx_bytes: 1000, tx_bytes: 600, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 },
      eth1: { rx_bytes: 500, tx_bytes: 48, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 },
    },
  };
}

describe('docker CLI stats calculations', () => {
  it('CPU %: container delta over system delta, times online CPUs', () => {
    const stats = sample();
    assert.ok(Math.abs(calculateCpuPercentUnix(stats.precpu_stats, stats.cpu_stats) - 12.35) < 1e-9);
    // Without online_cpus, the length of percpu_usage counts.
    const current = { ...stats.cpu_stats, online_cpus: undefined, cpu_usage: { ...stats.cpu_stats.cpu_usage, percpu_usage: [1, 2, 3, 4] } };
    assert.ok(Math.abs(calculateCpuPercentUnix(stats.precpu_stats, current) - 24.7) < 1e-9);
    // No earlier sample with a system time: a zero system delta is no percentage.
    assert.equal(calculateCpuPercentUnix(stats.cpu_stats, stats.cpu_stats), 0);
  });

  it('memory without the inactive file cache (v1 total_inactive_file, v2 inactive_file)', () => {
    assert.equal(calculateMemUsageUnixNoCache({ usage: 500, stats: { total_inactive_file: 400 } }), 100);
    assert.equal(calculateMemUsageUnixNoCache({ usage: 500, stats: { total_inactive_file: 600 } }), 500);
    assert.equal(calculateMemUsageUnixNoCache({ usage: 500, stats: { inactive_file: 100 } }), 400);
    assert.equal(calculateMemUsageUnixNoCache({ usage: 500, stats: { total_inactive_file: 600, inactive_file: 100 } }), 400);
    assert.equal(calculateMemUsageUnixNoCache({}), 0);
    assert.equal(calculateMemPercentUnixNoCache(0, 100), 0);
    assert.equal(calculateMemPercentUnixNoCache(200, 100), 50);
  });

  it('block I/O adds the Read and Write entries (any case), network every interface', () => {
    assert.deepEqual(calculateBlockIo(sample().blkio_stats), { read: 4096, write: 8192 });
    assert.deepEqual(calculateBlockIo({ ...sample().blkio_stats, io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'read', value: 5 }, { major: 8, minor: 0, op: 'write', value: 7 }] }), { read: 5, write: 7 });
    assert.deepEqual(calculateBlockIo(zeroStats('', '').blkio_stats), { read: 0, write: 0 });
    assert.deepEqual(calculateNetwork(sample().networks), { rx: 1500, tx: 648 });
    assert.deepEqual(calculateNetwork(undefined), { rx: 0, tx: 0 });
  });

  it('formats a row with binary units for memory and decimal ones for I/O', () => {
    const row = statsRow(statsEntry('web', sample()), true);
    assert.deepEqual(row, {
      Container: 'web', Name: 'web', ID: '0123456789ab', CPUPerc: '12.35%', MemUsage: '100MiB / 1GiB', MemPerc: '9.77%',
      NetIO: '1.5kB / 648B', BlockIO: '4.1kB / 8.19kB', PIDs: '3',
    });
    assert.equal(statsRow(statsEntry('web', sample()), false).ID, '0123456789abcdef'.repeat(4));
  });

  it('shows "--" for a container without figures, and for a missing name', () => {
    const invalid: StatsEntry = { ...statsEntry('gone', zeroStats('', '')), isInvalid: true };
    assert.deepEqual(statsRow(invalid, true), {
      Container: 'gone', Name: '--', ID: '', CPUPerc: '--', MemUsage: '-- / --', MemPerc: '--', NetIO: '--', BlockIO: '--', PIDs: '--',
    });
    // A stopped container's zeroed answer is valid: zeros, not dashes.
    assert.deepEqual(statsRow(statsEntry('c2', zeroStats('/c2', 'abc')), true), {
      Container: 'c2', Name: 'c2', ID: 'abc', CPUPerc: '0.00%', MemUsage: '0B / 0B', MemPerc: '0.00%', NetIO: '0B / 0B', BlockIO: '0B / 0B', PIDs: '0',
    });
  });

  it("renders docker's default table, a template and json", () => {
    const entries = [statsEntry('web', sample())];
    assert.equal(renderStats('', entries, true),
      'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O        PIDS\n'
      + '0123456789ab   web       12.35%    100MiB / 1GiB       9.77%     1.5kB / 648B   4.1kB / 8.19kB   3\n');
    assert.equal(renderStats('table {{.Container}}\\t{{.PIDs}}', entries, true), 'CONTAINER   PIDS\nweb         3\n');
    assert.equal(renderStats('{{.Name}}: {{.CPUPerc}}', entries, true), 'web: 12.35%\n');
    assert.equal(renderStats('json', entries, true),
      '{"BlockIO":"4.1kB / 8.19kB","CPUPerc":"12.35%","Container":"web","ID":"0123456789ab","MemPerc":"9.77%",'
      + '"MemUsage":"100MiB / 1GiB","Name":"web","NetIO":"1.5kB / 648B","PIDs":"3"}\n');
  });

  it('redraws a streaming frame in place', () => {
    assert.equal(streamFrame('A\nB\n'), '\u001b[HA\u001b[K\nB\u001b[K\n\u001b[K\n\u001b[J');
  });

  it("lays out top's table with docker's 20-column cells", () => {
    assert.equal(formatTop(['PID', 'CMD'], [['1', 'sleep 300']]), `PID${' '.repeat(17)}CMD\n1${' '.repeat(19)}sleep 300\n`);
  });
});

describe("the daemon's stats answers", () => {
  it("is Docker's zeroed answer for a container that is not running", () => {
    assert.equal(JSON.stringify(zeroStats('/x', 'abc')),
      '{"read":"0001-01-01T00:00:00Z","preread":"0001-01-01T00:00:00Z","pids_stats":{},"blkio_stats":{"io_service_bytes_recursive":null,'
      + '"io_serviced_recursive":null,"io_queue_recursive":null,"io_service_time_recursive":null,"io_wait_time_recursive":null,'
      + '"io_merged_recursive":null,"io_time_recursive":null,"sectors_recursive":null},"num_procs":0,"storage_stats":{},'
      + '"cpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},'
      + '"precpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},'
      + '"memory_stats":{},"name":"/x","id":"abc"}');
  });

  it("composes a sample in Docker's key order, with the previous sample as precpu", () => {
    const cgroup = {
      pids_stats: { current: 1 }, blkio_stats: zeroStats('', '').blkio_stats, memory_stats: { usage: 10 },
      cpu_stats: { cpu_usage: { total_usage: 5, usage_in_kernelmode: 1, usage_in_usermode: 4 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    };
    const previous = { read: '2024-01-01T00:00:00.000Z', cpu: { ...cgroup.cpu_stats, system_cpu_usage: 1 } };
    const stats = composeStats({ read: '2024-01-01T00:00:01.000Z', previous, cgroup, system: { systemUsage: 99, onlineCpus: 2 }, name: '/n', id: 'i', networks: {} });
    assert.deepEqual(Object.keys(stats), ['read', 'preread', 'pids_stats', 'blkio_stats', 'num_procs', 'storage_stats', 'cpu_stats', 'precpu_stats', 'memory_stats', 'name', 'id']);
    assert.deepEqual(Object.keys(stats.cpu_stats), ['cpu_usage', 'system_cpu_usage', 'online_cpus', 'throttling_data']);
    assert.equal(stats.preread, previous.read);
    assert.equal(stats.precpu_stats.system_cpu_usage, 1);
    const withNetworks = composeStats({ read: 'r', cgroup, system: { systemUsage: 0, onlineCpus: 0 }, name: '/n', id: 'i',
      networks: { eth0: { rx_bytes: 1, rx_packets: 1, rx_errors: 0, rx_dropped: 0, tx_bytes: 1, tx_packets: 1, tx_errors: 0, tx_dropped: 0 } } });
    assert.equal(Object.keys(withNetworks).at(-1), 'networks');
    assert.equal(withNetworks.preread, '0001-01-01T00:00:00Z');
    assert.deepEqual(Object.keys(withNetworks.cpu_stats), ['cpu_usage', 'throttling_data']);
  });
});
