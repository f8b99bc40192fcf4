// Privileges as asked for: --privileged (the host's bounding set, its devices, no seccomp or
// masks), --device and --device-cgroup-rule, --group-add, --sysctl, --oom-score-adj, shared
// IPC/PID/UTS/cgroup namespaces, --security-opt; refused input creates nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDaemon, type CommandResult } from './harness.js';

const daemon = useDaemon();

function runSh(flags: string[], script: string): Promise<CommandResult> {
  return daemon.berth(['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]);
}

async function shOut(flags: string[], script: string): Promise<string> {
  const result = await runSh(flags, script);
  assert.equal(result.code, 0, `${flags.join(' ')} ${script}: ${JSON.stringify(result)}`);
  return result.stdout;
}

async function withRunning(name: string, flags: string[], check: (id: string) => Promise<void>): Promise<void> {
  const id = (await daemon.berthOk(['run', '-d', '--name', name, ...flags, 'busybox', 'sh', '-c', 'echo shared > /dev/shm/mark 2>/dev/null; sleep 300'])).trim();
  try {
    await check(id);
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
}

const containerCount = async () => (await daemon.api('GET', '/containers/json?all=1')).json().length as number;
const hostNamespace = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`);
const hostCapBnd = () => /^CapBnd:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];

test('--privileged: the host\'s bounding set, its devices, no seccomp, no masks; ip link add and mount work', async () => {
  const out = await shOut(['--privileged'], [
    'grep -E "^(CapEff|Seccomp):" /proc/self/status',
    'ip link add berthpriv0 type bridge && echo link-ok',
    'mkdir -p /m && mount -t tmpfs t /m && echo mount-ok',
    'ls /dev',
    'cat /sys/fs/cgroup/devices/devices.list',
    'grep -E " /sys | /proc/kcore " /proc/self/mounts',
  ].join('; '));
  assert.match(out, new RegExp(`CapEff:\\s*${hostCapBnd()}\\n`), out);
  assert.match(out, /Seccomp:\s*0\n/);
  assert.match(out, /link-ok/);
  assert.match(out, /mount-ok/);
  assert.match(out, /^a \*:\* rwm$/m);
  assert.match(out, /sysfs \/sys sysfs rw,/);
  assert.doesNotMatch(out, /\/proc\/kcore/);
  const hostBlockDevice = execFileSync('sh', ['-c', 'ls /dev | grep -E "^(loop[0-9]+|sd[a-z]|vd[a-z]|nvme0n1)$" | head -1']).toString().trim();
  if (hostBlockDevice) assert.match(out, new RegExp(`^${hostBlockDevice}$`, 'm'), `host device /dev/${hostBlockDevice} missing`);

  const plain = await runSh([], 'ip link add berthpriv0 type bridge || echo link-refused; mkdir -p /m; mount -t tmpfs t /m || echo mount-refused; grep Seccomp: /proc/self/status');
  assert.match(plain.stdout + plain.stderr, /link-refused/);
  assert.match(plain.stdout + plain.stderr, /mount-refused/);
  assert.match(plain.stdout, /Seccomp:\s*2/);
});

test('--device (a node, renamed, with a mode; a directory of nodes) and --device-cgroup-rule via devices.list', async () => {
  const devDir = join(daemon.root, 'devdir');
  mkdirSync(devDir);
  execFileSync('mknod', ['-m', '666', join(devDir, 'mynull'), 'c', '1', '3']);
  await withRunning('devices', ['--device', '/dev/kmsg:/dev/xkmsg:r', '--device', `${devDir}:/dev/more`, '--device-cgroup-rule', 'c 42:* rm'], async (id) => {
    const list = readFileSync(join('/sys/fs/cgroup/devices', daemon.cgroupParent, id, 'devices.list'), 'utf8');
    assert.match(list, /^c 1:11 r$/m, list);
    assert.match(list, /^c 42:\* rm$/m, list);
    const ls = await daemon.berthOk(['exec', id, 'ls', '-l', '/dev/xkmsg', '/dev/more/mynull']);
    assert.match(ls, /^c.* 1,\s+11 .*\/dev\/xkmsg$/m, ls);
    assert.match(ls, /^c.* 1,\s+3 .*\/dev\/more\/mynull$/m, ls);
  });
  const before = await containerCount();
  const missing = await daemon.berth(['run', '--rm', '--device', '/dev/berth-nope', 'busybox', 'true']);
  assert.equal(missing.code, 127, 'docker run exits 127 on a "no such file or directory" error, and so does berth');
  assert.match(missing.stderr, /error gathering device information while adding custom device "\/dev\/berth-nope": no such file or directory/);
  const badRule = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { DeviceCgroupRules: ['c 1:3 x'] } });
  assert.equal(badRule.status, 400, badRule.body);
  assert.match(badRule.json().message, /invalid device cgroup rule format: 'c 1:3 x'/);
  assert.equal(await containerCount(), before);
});

test('--group-add (number and name from the container\'s /etc/group), --oom-score-adj, --sysctl', async () => {
  const groups = (await shOut(['--group-add', '4321', '--group-add', 'wheel'], 'id -G')).trim().split(' ');
  assert.ok(groups.includes('4321') && groups.includes('10'), groups.join(' '));
  await withRunning('oom', ['--oom-score-adj', '321', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=123456789'], async (id) => {
    const inspect = JSON.parse(await daemon.berthOk(['inspect', id]))[0];
    assert.equal(inspect.HostConfig.OomScoreAdj, 321);
    assert.deepEqual(inspect.HostConfig.Sysctls, { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '123456789' });
    assert.equal(readFileSync(`/proc/${inspect.State.Pid}/oom_score_adj`, 'utf8').trim(), '321');
    assert.equal((await daemon.berthOk(['exec', id, 'cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/shmmax'])), '1\n123456789\n');
  });
  const cli = await daemon.berth(['create', '--sysctl', 'kernel.hostname=x', 'busybox']);
  assert.equal(cli.code, 125);
  assert.match(cli.stderr, /invalid argument "kernel.hostname=x" for "--sysctl" flag: sysctl 'kernel.hostname=x' is not allowed/);
  const before = await containerCount();
  for (const [hostConfig, message] of [
    [{ Sysctls: { 'vm.swappiness': '1' } }, 'sysctl "vm.swappiness" is not in a separate kernel namespace'],
    [{ NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } }, 'sysctl "net.ipv4.ip_forward" is not allowed in the hosts network namespace'],
    [{ CapAdd: ['NOT_A_CAP'] }, 'invalid CapAdd: unknown capability: "CAP_NOT_A_CAP"'],
    [{ Devices: [{ PathOnHost: '/dev/berth-nope', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }] }, 'error gathering device information while adding custom device "/dev/berth-nope": no such file or directory'],
    [{ OomScoreAdj: 1001 }, 'Invalid value 1001, range for oom score adj is [-1000, 1000]'],
  ] as const) {
    const response = await daemon.api('POST', '/containers/create', { Image: 'busybox', HostConfig: hostConfig });
    assert.equal(response.status, 400, response.body);
    assert.equal(response.json().message, message);
  }
  assert.equal(await containerCount(), before);
});

test('--ipc: shareable lends its namespace and /dev/shm to container:x; private refuses; host and none', async () => {
  await withRunning('ipcdonor', ['--ipc', 'shareable'], async (id) => {
    const donorIpc = (await daemon.berthOk(['exec', id, 'readlink', '/proc/self/ns/ipc'])).trim();
    const out = await shOut(['--ipc', 'container:ipcdonor'], 'readlink /proc/self/ns/ipc; cat /dev/shm/mark');
    assert.equal(out, `${donorIpc}\nshared\n`);
    assert.equal(JSON.parse(await daemon.berthOk(['inspect', id]))[0].HostConfig.IpcMode, 'shareable');
  });
  await withRunning('ipcprivate', [], async () => {
    const refused = await runSh(['--ipc', 'container:ipcprivate'], 'true');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/);
  });
  assert.equal((await shOut(['--ipc', 'host'], 'readlink /proc/self/ns/ipc')).trim(), hostNamespace('ipc'));
  assert.notEqual((await shOut([], 'readlink /proc/self/ns/ipc')).trim(), hostNamespace('ipc'));
  assert.equal(await shOut(['--ipc', 'none'], 'grep -c " /dev/shm " /proc/self/mounts || true'), '0\n');
});

test('--pid host and container:x, --uts host, --cgroupns host|private', async () => {
  assert.equal((await shOut(['--pid', 'host'], 'readlink /proc/self/ns/pid')).trim(), hostNamespace('pid'));
  await withRunning('piddonor', [], async () => {
    const ps = await shOut(['--pid', 'container:piddonor'], 'ps -o pid,args');
    assert.match(ps, /^\s*1 sleep 300$/m, ps);
  });
  const stopped = await daemon.berthOk(['create', '--name', 'pidstopped', 'busybox', 'true']);
  try {
    const refused = await runSh(['--pid', 'container:pidstopped'], 'true');
    assert.match(refused.stderr, /cannot join PID of a non running container: [0-9a-f]{64}/);
  } finally {
    await daemon.berth(['rm', '-f', stopped.trim()]);
  }
  assert.equal(await shOut(['--uts', 'host'], 'hostname'), readFileSync('/proc/sys/kernel/hostname', 'utf8'));
  assert.equal((await shOut(['--cgroupns', 'host'], 'readlink /proc/self/ns/cgroup')).trim(), hostNamespace('cgroup'));
  assert.notEqual((await shOut(['--cgroupns', 'private'], 'readlink /proc/self/ns/cgroup')).trim(), hostNamespace('cgroup'));
  const bad = await daemon.berth(['create', '--cgroupns', 'shared', 'busybox']);
  assert.match(bad.stderr, /--cgroupns: invalid CGROUP mode/);
});

test('--security-opt: seccomp=unconfined, a profile file, apparmor and label accepted; inspect shows them', async () => {
  assert.match(await shOut(['--security-opt', 'seccomp=unconfined'], 'grep Seccomp: /proc/self/status'), /Seccomp:\s*0/);
  const profile = join(daemon.root, 'no-mkdir.json');
  writeFileSync(profile, JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
  }, null, 2));
  const denied = await runSh(['--security-opt', `seccomp=${profile}`], 'mkdir /made || echo mkdir-denied; grep Seccomp: /proc/self/status');
  assert.match(denied.stdout, /mkdir-denied/);
  assert.match(denied.stdout, /Seccomp:\s*2/);
  const id = (await daemon.dockerOk(['create', '--security-opt', 'apparmor=unconfined', '--security-opt', 'label=disable', '--security-opt', `seccomp=${profile}`,
    '--privileged', '--device', '/dev/null:/dev/n2:rw', '--userns', 'host', '--uts', 'host', '--pid', 'host', 'busybox', 'true'])).trim();
  try {
    const hc = JSON.parse(await daemon.dockerOk(['inspect', id]))[0].HostConfig;
    assert.equal(hc.SecurityOpt[0], 'apparmor=unconfined');
    assert.equal(hc.SecurityOpt[1], 'label=disable');
    assert.match(hc.SecurityOpt[2], /^seccomp=\{"defaultAction":"SCMP_ACT_ALLOW"/);
    assert.equal(hc.Privileged, true);
    assert.deepEqual(hc.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/n2', CgroupPermissions: 'rw' }]);
    assert.equal(hc.UsernsMode, 'host');
    assert.equal(hc.UTSMode, 'host');
    assert.equal(hc.PidMode, 'host');
    assert.equal((await daemon.docker(['start', '-a', id])).code, 0);
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
});
