// Unit tests for src/containers/cgroups.ts: finding a container's cgroups on v1 (hybrid) and v2
// hosts, and turning cgroup v1 and v2 files into the parts of Docker's stats answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cgroupV1Stats, cgroupV2Stats, containerCgroupsPath, locateFromCgroupsPath, locateFromProcCgroup, parseBlkioV1,
  parseCgroupMounts, parseCgroupNumber, parseFlatKeyed, parseIoStatV2, parseNetDev, parseProcCgroup, parseProcStat,
} from '../../src/containers/cgroups.js';

const HYBRID_MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct',
  '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
  '50 23 0:40 /host\\040dir /mnt/with\\040space rw - ext4 /dev/sda1 rw',
].join('\n');

const V2_MOUNTINFO = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';

describe('cgroup mounts and paths', () => {
  it('reads the v1 hierarchies and the unified mount from mountinfo', () => {
    const mounts = parseCgroupMounts(HYBRID_MOUNTINFO);
    assert.equal(mounts.length, 8);
    assert.deepEqual(mounts[0], { version: 1, root: '/', mountPoint: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'] });
    assert.deepEqual(mounts.find((mount) => mount.mountPoint.endsWith('systemd'))?.controllers, ['xattr', 'name=systemd']);
    assert.deepEqual(mounts.at(-1), { version: 2, root: '/', mountPoint: '/sys/fs/cgroup/unified', controllers: [] });
  });

  it('unescapes octal sequences in mount points', () => {
    const mounts = parseCgroupMounts('60 1 0:50 /a\\040b /sys/fs/cgroup/x\\040y rw - cgroup cgroup rw,memory');
    assert.equal(mounts[0]!.mountPoint, '/sys/fs/cgroup/x y');
    assert.equal(mounts[0]!.root, '/a b');
  });

  it('follows /proc/<pid>/cgroup to each controller directory (v1, joined cpu,cpuacct)', () => {
    const id = 'a'.repeat(64);
    const procCgroup = [
      `12:pids:/berth/${id}`, `11:freezer:/berth/${id}`, `9:memory:/berth/${id}`, `7:blkio:/berth/${id}`,
      `4:cpu,cpuacct:/berth/${id}`, `3:cpuset:/berth/${id}`, `1:name=systemd:/user.slice`, '0::/user.slice',
    ].join('\n');
    const location = locateFromProcCgroup(parseProcCgroup(procCgroup), parseCgroupMounts(HYBRID_MOUNTINFO), 1);
    assert.deepEqual(location, {
      version: 1,
      dirs: {
        cpu: `/sys/fs/cgroup/cpu,cpuacct/berth/${id}`, cpuacct: `/sys/fs/cgroup/cpu,cpuacct/berth/${id}`,
        cpuset: `/sys/fs/cgroup/cpuset/berth/${id}`, memory: `/sys/fs/cgroup/memory/berth/${id}`,
        blkio: `/sys/fs/cgroup/blkio/berth/${id}`, pids: `/sys/fs/cgroup/pids/berth/${id}`, freezer: `/sys/fs/cgroup/freezer/berth/${id}`,
      },
    });
  });

  it('takes a mount whose root is a sub-tree into account', () => {
    const mounts = parseCgroupMounts('70 1 0:60 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory');
    const location = locateFromProcCgroup(parseProcCgroup('5:memory:/outer/berth/x'), mounts, 1);
    assert.deepEqual(location, { version: 1, dirs: { memory: '/sys/fs/cgroup/memory/berth/x' } });
  });

  it('finds the unified directory on a v2 host', () => {
    const location = locateFromProcCgroup(parseProcCgroup('0::/berth/abc\n'), parseCgroupMounts(V2_MOUNTINFO), 2);
    assert.deepEqual(location, { version: 2, dir: '/sys/fs/cgroup/berth/abc' });
  });

  it("places runc's cgroupsPath under every hierarchy when no pid is known", () => {
    assert.equal(containerCgroupsPath('berth', 'abc'), '/berth/abc');
    assert.equal(containerCgroupsPath('/nested/parent/', 'abc'), '/nested/parent/abc');
    assert.equal(containerCgroupsPath('', 'abc'), '/abc');
    const v1 = locateFromCgroupsPath('/berth/abc', parseCgroupMounts(HYBRID_MOUNTINFO), 1);
    assert.equal(v1?.version === 1 && v1.dirs.memory, '/sys/fs/cgroup/memory/berth/abc');
    assert.equal(v1?.version === 1 && v1.dirs.devices, undefined);
    assert.deepEqual(locateFromCgroupsPath('/berth/abc', parseCgroupMounts(V2_MOUNTINFO), 2), { version: 2, dir: '/sys/fs/cgroup/berth/abc' });
  });
});

describe('cgroup file parsers', () => {
  it('reads single numbers, with "max" meaning no limit', () => {
    assert.equal(parseCgroupNumber('4096\n'), 4096);
    assert.equal(parseCgroupNumber('max\n'), undefined);
    assert.equal(parseCgroupNumber(undefined), undefined);
    assert.equal(parseCgroupNumber(''), undefined);
  });

  it('reads flat keyed files', () => {
    assert.deepEqual(parseFlatKeyed('user 12\nsystem 34\n'), { user: 12, system: 34 });
    assert.deepEqual(parseFlatKeyed(undefined), {});
  });

  it('reads v1 blkio lines and skips the Total line', () => {
    const text = '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n';
    assert.deepEqual(parseBlkioV1(text).slice(0, 2), [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 }]);
    assert.equal(parseBlkioV1(text).length, 6);
    assert.deepEqual(parseBlkioV1('Total 0\n'), []);
  });

  it('reads v2 io.stat', () => {
    assert.deepEqual(parseIoStatV2('8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n'), [
      { major: 8, minor: 16, values: { rbytes: 1459200, wbytes: 314773504, rios: 192, wios: 353, dbytes: 0, dios: 0 } },
    ]);
  });

  it("reads the host's CPU time and online CPUs from /proc/stat as moby does", () => {
    const text = 'cpu  190780 0 96742 1712996 9671 0 1210 618 0 0\ncpu0 90451 0 41320 872334 1534 0 158 274 0 0\n'
      + 'cpu1 100328 0 55422 840661 8136 0 1051 343 0 0\nintr 5841540 0 0\n';
    // The first seven fields: 190780+0+96742+1712996+9671+0+1210 ticks of 10 ms.
    assert.deepEqual(parseProcStat(text), { systemUsage: 2011399 * 1e7, onlineCpus: 2 });
  });

  it('reads interface counters without the loopback', () => {
    const text = 'Inter-|   Receive                                                |  Transmit\n'
      + ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n'
      + '    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0\n'
      + '  eth0:    5338      36    1    2    0     0          0         0      648       8    3    4    0     0       0          0\n';
    assert.deepEqual(parseNetDev(text), {
      eth0: { rx_bytes: 5338, rx_packets: 36, rx_errors: 1, rx_dropped: 2, tx_bytes: 648, tx_packets: 8, tx_errors: 3, tx_dropped: 4 },
    });
  });
});

const V1_MEMORY_STAT = `cache 12288
rss 61440
rss_huge 0
shmem 0
mapped_file 0
dirty 0
writeback 4096
swap 0
pgpgin 66606
pgpgout 66588
pgfault 1052
pgmajfault 0
inactive_anon 57344
active_anon 4096
inactive_file 4096
active_file 8192
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 12288
total_rss 61440
total_rss_huge 0
total_shmem 0
total_mapped_file 0
total_dirty 0
total_writeback 4096
total_swap 0
total_pgpgin 66606
total_pgpgout 66588
total_pgfault 1052
total_pgmajfault 0
total_inactive_anon 57344
total_active_anon 4096
total_inactive_file 4096
total_active_file 8192
total_unevictable 0
`;

describe('cgroup v1 stats', () => {
  const files = {
    cpuacctUsage: '6167167578\n', cpuacctUsagePercpu: '487148459 5680019119 \n', cpuacctStat: 'user 59\nsystem 557\n',
    cpuStat: 'nr_periods 38\nnr_throttled 12\nthrottled_time 107842823\n',
    memoryUsage: '548864\n', memoryMaxUsage: '3817472\n', memoryLimit: '9223372036854771712\n', memoryFailcnt: '0\n', memoryStat: V1_MEMORY_STAT,
    blkioServiceBytes: '8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n', blkioServiced: '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
    pidsCurrent: '3\n', pidsMax: 'max\n',
  };

  it('fills cpu, memory, blkio and pids as moby does from containerd v1 metrics', () => {
    const stats = cgroupV1Stats(files, 8 * 2 ** 30);
    assert.deepEqual(stats.cpu_stats, {
      cpu_usage: { total_usage: 6167167578, percpu_usage: [487148459, 5680019119], usage_in_kernelmode: 5_570_000_000, usage_in_usermode: 590_000_000 },
      throttling_data: { periods: 38, throttled_periods: 12, throttled_time: 107842823 },
    });
    assert.deepEqual(stats.pids_stats, { current: 3 });
    assert.equal(stats.memory_stats.usage, 548864);
    assert.equal(stats.memory_stats.max_usage, 3817472);
    assert.equal('failcnt' in stats.memory_stats, false, 'a zero failcnt is left out');
    assert.equal(stats.memory_stats.limit, 8 * 2 ** 30, 'no limit of its own: the machine memory');
    assert.equal(stats.memory_stats.stats?.total_inactive_file, 4096);
    assert.equal(stats.memory_stats.stats?.swap, undefined, 'only the keys moby copies');
    assert.equal(Object.keys(stats.memory_stats.stats ?? {}).length, 32);
    assert.deepEqual(Object.keys(stats.memory_stats), ['usage', 'max_usage', 'stats', 'limit']);
    assert.deepEqual(stats.blkio_stats.io_service_bytes_recursive, [
      { major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 }, { major: 8, minor: 0, op: 'Total', value: 12288 },
    ]);
    assert.equal(stats.blkio_stats.io_serviced_recursive?.length, 2);
    assert.deepEqual(stats.blkio_stats.sectors_recursive, []);
  });

  it('keeps a real memory limit and a pids limit', () => {
    const stats = cgroupV1Stats({ ...files, memoryLimit: '33554432\n', pidsMax: '50\n', memoryFailcnt: '7\n' }, 8 * 2 ** 30);
    assert.equal(stats.memory_stats.limit, 33554432);
    assert.equal(stats.memory_stats.failcnt, 7);
    assert.deepEqual(stats.pids_stats, { current: 3, limit: 50 });
  });

  it('leaves out what is missing', () => {
    const stats = cgroupV1Stats({ memoryStat: 'cache 0\n' }, 0);
    assert.equal(stats.cpu_stats.cpu_usage.total_usage, 0);
    assert.equal('percpu_usage' in stats.cpu_stats.cpu_usage, false);
    assert.deepEqual(stats.pids_stats, {});
    assert.equal(stats.memory_stats.limit, undefined);
  });
});

describe('cgroup v2 stats', () => {
  const files = {
    cpuStat: 'usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 3000\n',
    memoryCurrent: '10485760\n', memoryMax: 'max\n',
    memoryStat: 'anon 4096\nfile 8192\ninactive_file 2048\nactive_file 6144\nworkingset_refault_anon 0\n',
    memoryEvents: 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n',
    ioStat: '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n', pidsCurrent: '2\n', pidsMax: '100\n',
  };

  it('fills what a v2 host has, in microseconds turned to nanoseconds', () => {
    const stats = cgroupV2Stats(files, 2 ** 30);
    assert.deepEqual(stats.cpu_stats, {
      cpu_usage: { total_usage: 1_500_000_000, usage_in_kernelmode: 500_000_000, usage_in_usermode: 1_000_000_000 },
      throttling_data: { periods: 10, throttled_periods: 2, throttled_time: 3_000_000 },
    });
    assert.equal(stats.memory_stats.usage, 10485760);
    assert.equal(stats.memory_stats.max_usage, undefined);
    assert.equal(stats.memory_stats.limit, 2 ** 30);
    assert.equal(stats.memory_stats.failcnt, 1, 'the oom count of memory.events');
    assert.equal(stats.memory_stats.stats?.inactive_file, 2048);
    assert.equal(stats.memory_stats.stats?.total_inactive_file, undefined);
    assert.deepEqual(stats.blkio_stats.io_service_bytes_recursive, [
      { major: 8, minor: 0, op: 'read', value: 100 }, { major: 8, minor: 0, op: 'write', value: 200 },
    ]);
    assert.equal(stats.blkio_stats.io_serviced_recursive, null);
    assert.deepEqual(stats.pids_stats, { current: 2, limit: 100 });
  });

  it('reports no block devices as null', () => {
    assert.equal(cgroupV2Stats({ ...files, ioStat: '' }, 0).blkio_stats.io_service_bytes_recursive, null);
  });
});
