// What a process inside a container sees and may do: its own PID, UTS and network namespaces,
// the cgroup limits written on the host, dropped capabilities, seccomp, masked /proc paths,
// generated /etc files, and the user, directory, environment and entrypoint asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, type CommandResult } from './harness.js';

const daemon = useDaemon();

/** `berth run --rm [flags] busybox sh -c script`, asserting nothing about the outcome. */
function runSh(flags: string[], script: string): Promise<CommandResult> {
  return daemon.berth(['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]);
}

/** Like runSh but the script must succeed; returns its stdout. */
async function shOut(flags: string[], script: string): Promise<string> {
  const result = await runSh(flags, script);
  assert.equal(result.code, 0, `${script}: ${JSON.stringify(result)}`);
  return result.stdout;
}

/** Starts a sleeping container with `flags`, hands its full ID to `check`, then removes it. */
async function withRunning(flags: string[], check: (id: string) => Promise<void> | void): Promise<void> {
  const result = await daemon.berth(['run', '-d', ...flags, 'busybox', 'sleep', '300']);
  assert.equal(result.code, 0, JSON.stringify(result));
  const id = result.stdout.trim();
  try {
    await check(id);
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
}

function cgroupFile(controller: string, id: string, file: string): string {
  return readFileSync(join('/sys/fs/cgroup', controller, daemon.cgroupParent, id, file), 'utf8').trim();
}

test('PID namespace: the container\'s process is PID 1 and ps shows only its own processes', async () => {
  assert.equal(await shOut([], 'echo $$'), '1\n');
  const ps = await shOut([], 'ps -o pid,comm; true');
  const rows = ps.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/));
  assert.deepEqual(rows.map((row) => row[1]).sort(), ['ps', 'sh'], ps);
  assert.ok(rows.some((row) => row[0] === '1' && row[1] === 'sh'), ps);
});

test('UTS namespace: hostname is the 12-character ID prefix by default, -h sets it', async () => {
  const created = await daemon.berth(['create', 'busybox', 'hostname']);
  const id = created.stdout.trim();
  assert.equal((await daemon.api('GET', `/containers/${id}/json`)).json().Config.Hostname, id.slice(0, 12));
  const started = await daemon.berth(['start', '-a', id]);
  assert.equal(started.stdout.trim(), id.slice(0, 12), JSON.stringify(started));
  await daemon.berth(['rm', id]);
  assert.equal(await shOut(['-h', 'berthbox'], 'hostname; cat /etc/hostname'), 'berthbox\nberthbox\n');
  assert.equal(await shOut(['--hostname=other.example'], 'hostname'), 'other.example\n');
});

test('network namespace: none and the default show only lo; host sees the host\'s interfaces', async () => {
  assert.equal(await shOut(['--network', 'none'], 'ls /sys/class/net'), 'lo\n');
  const links = await shOut(['--network', 'none'], 'ip -o link');
  assert.deepEqual(links.trim().split('\n').map((line) => line.split(':')[1].trim()), ['lo'], links);
  const defaultNet = (await shOut([], 'ls /sys/class/net')).trim().split('\n');
  assert.ok(defaultNet.includes('lo'), defaultNet.join(','));
  // Until bridge networking exists the default network has no interface but lo either; with it, eth0 only.
  assert.ok(defaultNet.every((name) => name === 'lo' || name === 'eth0'), defaultNet.join(','));
  // The host's interfaces come and go with other daemons' tests: compare the namespace itself.
  assert.equal((await shOut(['--network', 'host'], 'readlink /proc/self/ns/net')).trim(), readlinkSync('/proc/self/ns/net'));
  assert.notEqual((await shOut([], 'readlink /proc/self/ns/net')).trim(), readlinkSync('/proc/self/ns/net'));
  const seen = (await shOut(['--network', 'host'], 'ls /sys/class/net')).trim().split('\n');
  assert.ok(seen.some((name) => name !== 'lo' && existsSync(`/sys/class/net/${name}`)), `the host's interfaces are seen: ${seen.join(',')}`);
  assert.equal(await shOut(['--network', 'host'], 'hostname'), readFileSync('/proc/sys/kernel/hostname', 'utf8'));
});

test('-m 64m sets memory.limit_in_bytes and, with default swap, memsw at twice that', async () => {
  await withRunning(['-m', '64m'], (id) => {
    assert.equal(cgroupFile('memory', id, 'memory.limit_in_bytes'), '67108864');
    assert.equal(cgroupFile('memory', id, 'memory.memsw.limit_in_bytes'), String(2 * 67108864));
  });
  await withRunning(['-m', '32m', '--memory-swap', '-1'], (id) => {
    assert.equal(cgroupFile('memory', id, 'memory.limit_in_bytes'), String(32 * 1024 * 1024));
    assert.equal(BigInt(cgroupFile('memory', id, 'memory.memsw.limit_in_bytes')) > 1n << 60n, true);
  });
});

test('the memory limit is enforced: the OOM killer ends the process and inspect says OOMKilled', async () => {
  // tail -c keeps 32 MiB in memory, beyond 8 MiB of memory plus 8 MiB of swap.
  const result = await daemon.berth(['run', '--name', 'oom', '-m', '8m', 'busybox', 'sh', '-c', 'head -c 64m /dev/zero | tail -c 32m > /dev/null']);
  assert.equal(result.code, 137, JSON.stringify(result));
  const state = await daemon.berth(['inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', 'oom']);
  assert.equal(state.stdout, '137 true\n');
  await daemon.berth(['rm', 'oom']);
  const fine = await daemon.berth(['run', '--name', 'no-oom', '-m', '64m', 'busybox', 'sh', '-c', 'head -c 64m /dev/zero | tail -c 1m | wc -c']);
  assert.equal(fine.stdout.trim(), '1048576');
  assert.equal((await daemon.berth(['inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', 'no-oom'])).stdout, '0 false\n');
  await daemon.berth(['rm', 'no-oom']);
});

test('--cpus, --cpu-shares and --pids-limit reach the cgroup files', async () => {
  await withRunning(['--cpus', '0.5', '--cpu-shares', '512', '--pids-limit', '20'], async (id) => {
    assert.equal(cgroupFile('cpu', id, 'cpu.cfs_quota_us'), '50000');
    assert.equal(cgroupFile('cpu', id, 'cpu.cfs_period_us'), '100000');
    assert.equal(cgroupFile('cpu', id, 'cpu.shares'), '512');
    assert.equal(cgroupFile('pids', id, 'pids.max'), '20');
    const inspect = (await daemon.api('GET', `/containers/${id}/json`)).json();
    assert.equal(inspect.HostConfig.NanoCpus, 500_000_000);
    assert.equal(inspect.HostConfig.CpuShares, 512);
    assert.equal(inspect.HostConfig.PidsLimit, 20);
  });
});

test('--pids-limit is enforced: forks beyond it fail', async () => {
  const result = await runSh(['--pids-limit', '5'], 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait; echo done');
  assert.match(result.stderr + result.stdout, /can't fork|Resource temporarily unavailable/i, JSON.stringify(result));
});

test('capabilities: no CAP_SYS_ADMIN by default, mount fails; --cap-add SYS_ADMIN lets mount work', async () => {
  const capEff = (await shOut([], 'grep CapEff /proc/self/status')).split(/\s+/)[1];
  const bits = BigInt(`0x${capEff}`);
  assert.equal((bits >> 21n) & 1n, 0n, `CapEff ${capEff} has CAP_SYS_ADMIN`);
  // Docker's default set: chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap
  assert.equal(bits, 0xa80425fbn, `CapEff ${capEff}`);
  const mount = await runSh([], 'mount -t tmpfs none /mnt');
  assert.notEqual(mount.code, 0, JSON.stringify(mount));
  assert.match(mount.stderr, /permission denied|not permitted/i);
  const withCap = await runSh(['--cap-add', 'SYS_ADMIN'],  'mkdir -p /mnt && mount -t tmpfs none /mnt && grep " /mnt " /proc/mounts');
  assert.equal(withCap.code, 0, JSON.stringify(withCap));
  assert.match(withCap.stdout, /^none \/mnt tmpfs/);
  const dropped = await shOut(['--cap-drop', 'ALL'], 'grep CapEff /proc/self/status');
  assert.match(dropped, /CapEff:\s+0+\n/);
});

test('seccomp: filter mode 2, and unshare of user or mount namespaces is refused', async () => {
  assert.match(await shOut([], 'grep Seccomp: /proc/self/status'), /^Seccomp:\s+2$/m);
  const userNs = await runSh([], 'unshare -U true');
  assert.notEqual(userNs.code, 0);
  assert.match(userNs.stderr, /Operation not permitted/, JSON.stringify(userNs));
  const mountNs = await runSh([], 'unshare -m true');
  assert.notEqual(mountNs.code, 0);
  assert.match(mountNs.stderr, /Operation not permitted/, JSON.stringify(mountNs));
  assert.match(await shOut(['--security-opt', 'seccomp=unconfined'], 'grep Seccomp: /proc/self/status'), /^Seccomp:\s+0$/m);
});

test('masked and read-only /proc paths', async () => {
  // Docker masks these with /dev/null; this kernel may lack some of them (no /proc/kcore here).
  const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'].filter((path) => existsSync(path));
  assert.ok(masked.length > 0);
  for (const path of masked) {
    assert.equal(await shOut([], `stat -c %F:%t,%T ${path}; wc -c < ${path}`), 'character special file:1,3\n0\n', path);
  }
  if (existsSync('/proc/acpi')) assert.equal(await shOut([], 'ls -A /proc/acpi | wc -l; touch /proc/acpi/x 2>&1 || echo refused'), '0\ntouch: /proc/acpi/x: Read-only file system\nrefused\n');
  const write = await runSh([], 'echo 1 > /proc/sys/kernel/panic_on_oops');
  assert.notEqual(write.code, 0);
  assert.match(write.stderr, /Read-only file system/, JSON.stringify(write));
  assert.match(await shOut([], 'grep " /proc/sys " /proc/mounts'), /\bro\b/);
});

test('/dev/shm is a 64m tmpfs and the /etc files are generated', async () => {
  const shm = await shOut([], 'grep " /dev/shm " /proc/mounts; df -k /dev/shm | tail -1');
  assert.match(shm, /^shm \/dev\/shm tmpfs .*size=65536k/m, shm);
  assert.match(await shOut(['--shm-size', '16m'], 'grep " /dev/shm " /proc/mounts'), /size=16384k/);
  const etc = await shOut(['-h', 'etcbox'], 'cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/mounts | wc -l');
  const [hostname, hosts, resolv, mounts] = etc.split('---\n');
  assert.equal(hostname, 'etcbox\n');
  assert.match(hosts, /^127\.0\.0\.1\s+localhost/m);
  assert.match(hosts, /^::1\s+localhost ip6-localhost ip6-loopback/m);
  assert.ok(resolv.length > 0, 'resolv.conf empty');
  assert.match(resolv, /^(nameserver|search|options) /m);
  assert.equal(mounts.trim(), '3');
});

test('-u, -w, -e, --env-file, --entrypoint', async () => {
  assert.equal(await shOut(['-u', 'nobody'], 'id'), 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n');
  assert.equal(await shOut(['-u', '1000:1000'], 'id -u; id -g'), '1000\n1000\n');
  assert.equal(await shOut(['--group-add', 'wheel', '--group-add', '27'], 'id'), 'uid=0(root) gid=0(root) groups=0(root),10(wheel),27\n');
  assert.equal(await shOut(['-w', '/tmp'], 'pwd'), '/tmp\n');
  assert.equal(await shOut(['-w', '/does/not/exist'], 'pwd'), '/does/not/exist\n');
  const envFile = join(daemon.root, 'env.list');
  writeFileSync(envFile, '# a comment\nFROM_FILE=file value\n\nPASSED\n');
  const env = await shOut(['-e', 'A=1', '--env', 'B=two words', '--env-file', envFile], 'echo "$A|$B|$FROM_FILE|${PASSED-unset}|$PATH|$HOME"');
  assert.equal(env, '1|two words|file value|unset|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root\n');
  const entry = await daemon.berth(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']);
  assert.equal(entry.stdout, 'from entrypoint\n', JSON.stringify(entry));
  const entryNoCmd = await daemon.berth(['run', '--rm', '--entrypoint', 'hostname', '-h', 'ep', 'busybox']);
  // The image's CMD (sh) would be an argument to hostname; docker resets CMD when --entrypoint is given.
  assert.equal(entryNoCmd.stdout, 'ep\n', JSON.stringify(entryNoCmd));
});

test('labels are visible in inspect and --read-only makes the root file system read-only', async () => {
  const created = await daemon.berth(['create', '-l', 'tier=front', '--label', 'empty', 'busybox']);
  assert.equal(created.code, 0, JSON.stringify(created));
  const id = created.stdout.trim();
  const labels = await daemon.berth(['inspect', '-f', '{{json .Config.Labels}}', id]);
  assert.equal(labels.stdout, '{"empty":"","tier":"front"}\n');
  await daemon.berth(['rm', id]);
  const readOnly = await runSh(['--read-only'], 'touch /file');
  assert.notEqual(readOnly.code, 0);
  assert.match(readOnly.stderr, /Read-only file system/);
  // /dev/shm is its own tmpfs and stays writable, as in Docker.
  assert.equal(await shOut(['--read-only'], 'touch /dev/shm/x && echo ok'), 'ok\n');
  assert.equal(await shOut([], 'touch /file && echo ok'), 'ok\n');
});
