// Execs without a terminal in crun containers are run by berthd's process helper itself
// (runtime/ns-exec.ts, native/ns-exec.c), those with one by conmon and `crun exec`. Both must put
// the process in the same container: namespaces, cgroups, capabilities, seccomp, user and
// groups, no_new_privs, umask, OOM score, environment, working directory, and no stray fds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { eventually, useDaemon } from './harness.js';

const daemon = useDaemon();

/** What the process sees of itself; `ls` is its own child, so its fds are ls's: 0-2 and its directory's. */
const PROBE = [
  'grep -E "^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters|Speculation_Store_Bypass):" /proc/self/status',
  'for n in cgroup ipc mnt net pid time user uts; do readlink /proc/$$/ns/$n; done',
  'cat /proc/$$/cgroup', 'umask', 'cat /proc/$$/oom_score_adj', 'pwd', 'env | grep -v ^TERM= | sort', 'ls /proc/self/fd | tr "\\n" " "',
].join('; ');

async function probe(container: string, execOptions: string[], tty: boolean): Promise<string> {
  const result = await daemon.docker(['exec', ...(tty ? ['-t'] : []), ...execOptions, container, 'sh', '-c', PROBE]);
  assert.equal(result.code, 0, `exec ${tty ? '-t ' : ''}${execOptions.join(' ')} ${container}: ${result.stderr}`);
  return result.stdout.replace(/\r\n/g, '\n');
}

/** The exec's host pid, its parent's command line, and whether it is in the container's pids cgroup, while it runs. */
async function whoRuns(container: string, tty: boolean): Promise<{ parent: string; inCgroup: boolean; inTop: boolean }> {
  const seconds = tty ? '31' : '32';
  const client = spawn('docker', ['exec', ...(tty ? ['-t'] : []), container, 'sleep', seconds], {
    env: { ...process.env, DOCKER_HOST: daemon.host, DOCKER_CONFIG: daemon.dockerConfig }, stdio: 'ignore',
  });
  let pid = 0;
  try {
    pid = await eventually(async () => {
      const { ExecIDs } = (await daemon.api('GET', `/containers/${container}/json`)).json() as { ExecIDs: string[] | null };
      for (const id of ExecIDs ?? []) {
        const exec = (await daemon.api('GET', `/exec/${id}/json`)).json() as { Pid: number; Running: boolean; ProcessConfig: { arguments: string[] } };
        if (exec.Running && exec.Pid > 0 && exec.ProcessConfig.arguments[0] === seconds) return exec.Pid;
      }
      return undefined;
    }, 10_000, 'the exec running');
    const ppid = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
    const parent = readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0').join(' ');
    const id = (await daemon.api('GET', `/containers/${container}/json`)).json().Id as string;
    const cgroupLine = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((line) => /^\d+:pids:/.test(line))!;
    const top = (await daemon.api('GET', `/containers/${container}/top?ps_args=-ef`)).json() as { Processes: string[][] };
    return { parent, inCgroup: cgroupLine.endsWith(id), inTop: top.Processes.some((row) => row.includes(String(pid))) };
  } finally {
    client.kill('SIGKILL');
    if (pid > 0) process.kill(pid, 'SIGKILL');
  }
}

test('the helper runs execs without a terminal; conmon those with one; both in the container', async () => {
  await daemon.dockerOk(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '1000']);
  const direct = await whoRuns('plain', false);
  assert.match(direct.parent, /berth-runtime-launcher --serve/);
  assert.deepEqual([direct.inCgroup, direct.inTop], [true, true]);
  const throughShim = await whoRuns('plain', true);
  assert.match(throughShim.parent, /conmon/);
  assert.deepEqual([throughShim.inCgroup, throughShim.inTop], [true, true]);
});

test('the same process with and without a terminal: default, restricted, privileged and unconfined containers', async () => {
  const containers: Array<[string, string[]]> = [
    ['default', []],
    ['restricted', ['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', '--cap-add', 'SYS_TIME', '-u', '1000:1000', '--group-add', '5',
      '--security-opt', 'no-new-privileges', '--oom-score-adj', '300', '-w', '/tmp', '-e', 'FOO=bar']],
    ['privileged', ['--privileged']],
    ['unconfined', ['--security-opt', 'seccomp=unconfined', '--cap-add', 'SYS_PTRACE']],
  ];
  for (const [name, options] of containers) await daemon.dockerOk(['run', '-d', '--name', name, ...options, 'busybox', 'sleep', '1000']);
  const execOptions = [[], ['-u', 'nobody', '-w', '/etc', '-e', 'X=1'], ['--privileged'], ['-u', '12:34']];
  for (const [name] of containers) {
    for (const options of execOptions) {
      const direct = await probe(name, options, false);
      const throughShim = await probe(name, options, true);
      assert.equal(direct, throughShim, `${name}, exec ${options.join(' ')}`);
      assert.match(direct, /^Seccomp:\s+[02]$/m);
      assert.match(direct, /0 1 2 3 $/, 'no descriptor of the helper\'s in the process');
    }
  }
  // What the probe shows is the container's, not the host's.
  const defaultProbe = await probe('default', [], false);
  assert.match(defaultProbe, /^Seccomp:\s+2$/m);
  assert.match(defaultProbe, /^CapBnd:\s+00000000a80425fb$/m);
  for (const namespace of ['pid', 'mnt', 'net', 'uts', 'ipc']) {
    assert.ok(!defaultProbe.includes(readlinkSync(`/proc/self/ns/${namespace}`)), `the ${namespace} namespace is the container's`);
  }
  const restricted = await probe('restricted', [], false);
  assert.match(restricted, /^Uid:\s+1000\s/m);
  assert.match(restricted, /^NoNewPrivs:\s+1$/m);
});

test('an exec\'s process and its helper worker end with it; stdin, exit codes and errors as through the runtime', async () => {
  await daemon.dockerOk(['run', '-d', '--name', 'ends', 'busybox', 'sleep', '1000']);
  assert.deepEqual(await daemon.docker(['exec', '-i', 'ends', 'sh', '-c', 'cat; echo err >&2; exit 5'], { input: 'in\n' }), { code: 5, stdout: 'in\n', stderr: 'err\n' });
  const missing = await daemon.docker(['exec', 'ends', 'nosuch']);
  assert.equal(missing.code, 127);
  assert.match(missing.stdout + missing.stderr, /executable file not found in \$PATH/);
  const badDirectory = await daemon.docker(['exec', '-w', '/nosuch', 'ends', 'true']);
  assert.equal(badDirectory.code, 127);
  assert.match(badDirectory.stdout + badDirectory.stderr, /chdir `\/nosuch`: no such file or directory/);
  const notExecutable = await daemon.docker(['exec', 'ends', '/etc/passwd']);
  assert.equal(notExecutable.code, 126);
  // A background child keeping the pipes open does not hold the exec: it ends with its process.
  const started = Date.now();
  assert.deepEqual(await daemon.docker(['exec', 'ends', 'sh', '-c', 'sleep 20 & echo started']), { code: 0, stdout: 'started\n', stderr: '' });
  assert.ok(Date.now() - started < 10_000);
  // Nor does one that writes without end: the exec ends with its process, the writer goes on.
  const writer = await daemon.docker(['exec', 'ends', 'sh', '-c', 'yes > /dev/stderr & echo started'], { timeoutMs: 20_000 });
  assert.deepEqual([writer.code, writer.stdout], [0, 'started\n']);
  await daemon.docker(['exec', 'ends', 'pkill', 'yes']);  // it may be gone already: its pipe's reader is
  // A killed process: 128 + the signal, as Docker reports it.
  const killed = daemon.docker(['exec', 'ends', 'sh', '-c', 'echo $$ > /tmp/pid; sleep 30']);
  await eventually(async () => (await daemon.docker(['exec', 'ends', 'cat', '/tmp/pid'])).code === 0);
  await daemon.dockerOk(['exec', 'ends', 'sh', '-c', 'kill -9 $(cat /tmp/pid)']);
  assert.equal((await killed).code, 137);
  // No helper worker is left behind by the execs above (the helper's children are workers and the conmons they started).
  await eventually(() => helperWorkers().length === 0, 10_000, `no nsexec worker left (${helperWorkers().map((pid) => `${pid}: ${childrenOf(pid).map((child) => readFileSync(`/proc/${child}/cmdline`, 'utf8')).join(' | ')}`).join(', ')})`);
});

/** Children of a process, by scanning /proc. */
function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))![1]) === parent) children.push(Number(entry));
    } catch { /* gone */ }
  }
  return children;
}

/** This daemon's process helper's workers that are still running (not conmon, which the helper's workers start and leave). */
function helperWorkers(): number[] {
  const helper = childrenOf(daemon.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--serve'));
  if (!helper) return [];
  return childrenOf(helper).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--serve'); } catch { return false; }
  });
}
