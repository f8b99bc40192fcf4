// Process control against a real berthd, with our CLI, the docker CLI and raw HTTP: pause and
// unpause (the freezer: a counting loop makes no progress; ps shows "(Paused)"; Docker's
// errors; kill/stop/rm -f of a paused container; a paused container across a daemon restart),
// top (default and aux, bad ps arguments), stats (--no-stream figures, the streaming API, one
// sampler shared by every client) and update (limits in the cgroup files and in inspect, a
// stopped container, Docker's errors, a failed runtime update leaving the record alone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { eventually, sleep, useDaemon } from './harness.js';

const daemon = useDaemon();
const MiB = 2 ** 20;
const V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

async function runDetached(args: string[]): Promise<string> {
  return (await daemon.berthOk(['run', '-d', '--network', 'none', ...args])).trim();
}

async function inspectField(id: string, template: string): Promise<string> {
  return (await daemon.berthOk(['inspect', '-f', template, id])).trim();
}

/** A cgroup file of a container (v1 controller file, or its v2 name), trimmed. */
function cgroupValue(id: string, controller: string, v1Name: string, v2Name: string): string {
  const path = V2 ? join('/sys/fs/cgroup', daemon.cgroupParent, id, v2Name) : join('/sys/fs/cgroup', controller, daemon.cgroupParent, id, v1Name);
  return readFileSync(path, 'utf8').trim();
}

function memoryLimit(id: string): number {
  return Number(cgroupValue(id, 'memory', 'memory.limit_in_bytes', 'memory.max'));
}

function logLines(id: string): Promise<number> {
  return daemon.berth(['logs', id]).then((result) => result.stdout.split('\n').filter(Boolean).length);
}

/** The first `count` JSON lines of a streamed GET, then the connection is closed. */
function streamLines(path: string, count: number, timeoutMs = 8000): Promise<{ status: number; lines: any[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: daemon.socket, path, method: 'GET' }, (res) => {
      let buffer = '';
      const lines: any[] = [];
      const timer = setTimeout(() => { req.destroy(); reject(new Error(`only ${lines.length} lines from ${path}`)); }, timeoutMs);
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buffer.slice(0, newline)));
          buffer = buffer.slice(newline + 1);
        }
        if (lines.length >= count) {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, lines: lines.slice(0, count) });
        }
      });
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, lines }); });
    });
    req.on('error', (error) => { if (!req.destroyed) reject(error); });
    req.end();
  });
}

test('pause freezes the processes, unpause lets them go on; ps and inspect say so; Docker\'s errors', async () => {
  const id = await runDetached(['--name', 'counter', 'busybox', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done']);
  await eventually(async () => (await logLines(id)) > 3, 5000, 'the loop counting');
  const since = Math.floor(Date.now() / 1000) - 1;
  assert.equal(await daemon.berthOk(['pause', 'counter']), 'counter\n');
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.Paused}} {{.State.Running}}'), 'paused true true');
  assert.match(await daemon.berthOk(['ps', '--filter', 'name=counter', '--format', '{{.Status}}']), /^Up .* \(Paused\)\n$/);
  assert.equal(cgroupValue(id, 'freezer', 'freezer.state', 'cgroup.freeze'), V2 ? '1' : 'FROZEN');
  const frozenAt = await logLines(id);
  await sleep(700);
  assert.equal(await logLines(id), frozenAt, 'the loop went on while paused');

  const again = await daemon.api('POST', '/containers/counter/pause');
  assert.equal(again.status, 409);
  assert.equal(again.json().message, `Container ${id} is already paused`);
  const twice = await daemon.berth(['pause', 'counter']);
  assert.equal(twice.code, 1);
  assert.equal(twice.stderr, `Error response from daemon: Container ${id} is already paused\n`);

  assert.equal(await daemon.berthOk(['unpause', 'counter']), 'counter\n');
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.Paused}}'), 'running false');
  await eventually(async () => (await logLines(id)) > frozenAt + 3, 5000, 'the loop counting again');
  const notPaused = await daemon.berth(['unpause', 'counter']);
  assert.equal(notPaused.code, 1);
  assert.equal(notPaused.stderr, `Error response from daemon: Container ${id} is not paused\n`);

  const events = await daemon.berthOk(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1),
    '--filter', 'container=counter', '--filter', 'event=pause', '--filter', 'event=unpause', '--format', '{{.Action}}']);
  assert.equal(events, 'pause\nunpause\n');

  await daemon.berthOk(['rm', '-f', id]);
  const stopped = (await daemon.berthOk(['create', 'busybox', 'true'])).trim();
  const response = await daemon.api('POST', `/containers/${stopped}/pause`);
  assert.equal(response.status, 409);
  assert.equal(response.json().message, `Container ${stopped} is not running`);
  assert.equal((await daemon.api('POST', '/containers/nosuch/pause')).status, 404);
  await daemon.berthOk(['rm', stopped]);
});

test('kill, stop and rm -f work on a paused container', async () => {
  const killed = await runDetached(['busybox', 'sleep', '300']);
  await daemon.berthOk(['pause', killed]);
  await daemon.berthOk(['kill', killed]);
  assert.equal(await inspectField(killed, '{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}'), 'exited 137 false');

  const stopped = await runDetached(['busybox', 'sh', '-c', 'trap "exit 3" TERM; while true; do sleep 0.1; done']);
  await daemon.berthOk(['pause', stopped]);
  await daemon.berthOk(['stop', '-t', '5', stopped]);
  // The TERM reached the trap once the container was thawed.
  assert.equal(await inspectField(stopped, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 3');

  const removed = await runDetached(['busybox', 'sleep', '300']);
  await daemon.berthOk(['pause', removed]);
  await daemon.berthOk(['rm', '-f', removed]);
  assert.equal((await daemon.api('GET', `/containers/${removed}/json`)).status, 404);
  await daemon.berthOk(['rm', killed, stopped]);
});

test('a paused container is still paused after the daemon restarts', async () => {
  const id = await runDetached(['busybox', 'sleep', '300']);
  await daemon.berthOk(['pause', id]);
  await daemon.stop();
  await daemon.start();
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.Paused}}'), 'paused true');
  await daemon.berthOk(['unpause', id]);
  assert.equal(await inspectField(id, '{{.State.Status}}'), 'running');
  await daemon.berthOk(['rm', '-f', id]);
});

test('top lists the processes of the container only, with ps -ef or the given ps options', async () => {
  const id = await runDetached(['--name', 'topbox', 'busybox', 'sh', '-c', 'sleep 301 & sleep 302']);
  await eventually(async () => (await daemon.berthOk(['top', 'topbox'])).includes('sleep 302'), 5000, 'both sleeps');
  const lines = (await daemon.berthOk(['top', 'topbox'])).trimEnd().split('\n');
  assert.match(lines[0]!, /^UID +PID +PPID +C +STIME +TTY +TIME +CMD$/);
  const commands = lines.slice(1).map((line) => line.split(/ {3,}/).at(-1));
  // busybox sh runs its last command in its own place: two processes.
  assert.deepEqual(commands.sort(), ['sleep 301', 'sleep 302']);
  // The first column is 20 wide, as docker lays it out.
  assert.equal(lines[0]!.indexOf('PID'), 20);

  const aux = (await daemon.berthOk(['top', 'topbox', 'aux'])).trimEnd().split('\n');
  assert.match(aux[0]!, /^USER +PID +%CPU +%MEM +VSZ +RSS +TTY +STAT +START +TIME +COMMAND$/);
  assert.equal(aux.length, 3);

  const api = await daemon.api('GET', '/containers/topbox/top?ps_args=-o%20pid,comm');
  assert.equal(api.status, 200);
  assert.deepEqual(api.json().Titles, ['PID', 'COMMAND']);
  assert.deepEqual(api.json().Processes.map((row: string[]) => row[1]).sort(), ['sleep', 'sleep']);

  const bad = await daemon.berth(['top', 'topbox', '--no-such-option']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error response from daemon: ps: .+\n$/);
  assert.equal((await daemon.api('GET', '/containers/topbox/top?ps_args=--no-such-option')).status, 500);

  await daemon.berthOk(['stop', '-t', '0', id]);
  const stopped = await daemon.api('GET', `/containers/${id}/top`);
  assert.equal(stopped.status, 409);
  assert.equal(stopped.json().message, `Container ${id} is not running`);
  await daemon.berthOk(['rm', id]);
});

test('stats --no-stream: memory used below the --memory limit, pids, the default table', async () => {
  const id = await runDetached(['--name', 'statbox', '-m', '64m', 'busybox', 'sh', '-c', 'sleep 300 & sleep 300']);
  const output = await daemon.berthOk(['stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.MemPerc}}|{{.PIDs}}|{{.CPUPerc}}|{{.NetIO}}', 'statbox']);
  const [name, memUsage, memPerc, pids, cpu, netIo] = output.trim().split('|');
  assert.equal(name, 'statbox');
  const [used, limit] = memUsage!.split(' / ');
  assert.equal(limit, '64MiB');
  assert.match(used!, /^[\d.]+(KiB|MiB)$/);
  assert.ok(Number.parseFloat(used!) > 0, used);
  assert.match(memPerc!, /^\d+\.\d\d%$/);
  assert.ok(Number(pids) >= 1, pids);
  assert.match(cpu!, /^\d+\.\d\d%$/);
  assert.equal(netIo, '0B / 0B');

  const table = await daemon.berthOk(['stats', '--no-stream']);
  const [header, row] = table.split('\n');
  assert.match(header!, /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
  assert.match(row!, new RegExp(`^${id.slice(0, 12)} +statbox +\\d+\\.\\d\\d% +`));

  const missing = await daemon.berth(['stats', '--no-stream', 'statbox', 'nosuchbox']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: No such container: nosuchbox\n');
  await daemon.berthOk(['rm', '-f', id]);
});

test('the stats API streams a sample a second, shared by every client; a stopped container gets the zeroed answer', async () => {
  const id = await runDetached(['-m', '32m', 'busybox', 'sleep', '300']);
  const [first, second] = await Promise.all([streamLines(`/containers/${id}/stats`, 3), streamLines(`/containers/${id}/stats?stream=1`, 2)]);
  assert.equal(first.status, 200);
  const [a, b] = first.lines;
  assert.equal(a.id, id);
  assert.equal(a.name, (await inspectField(id, '{{.Name}}')));
  assert.ok(a.memory_stats.usage > 0);
  assert.equal(a.memory_stats.limit, 32 * MiB);
  assert.ok(a.pids_stats.current >= 1);
  assert.ok(a.cpu_stats.online_cpus >= 1 && a.cpu_stats.system_cpu_usage > 0);
  assert.equal(b.preread, a.read);
  assert.deepEqual(b.precpu_stats, a.cpu_stats);
  const gap = Date.parse(b.read) - Date.parse(a.read);
  assert.ok(gap >= 900 && gap <= 1500, `samples ${gap} ms apart`);
  // One sampler for both clients: they were handed the very same samples.
  assert.deepEqual(second.lines.map((sample) => sample.read), first.lines.slice(0, 2).map((sample) => sample.read));

  const single = await daemon.api('GET', `/containers/${id}/stats?stream=false`);
  assert.equal(single.status, 200);
  const answer = single.json();
  assert.notEqual(answer.preread, '0001-01-01T00:00:00Z', 'a single answer carries a previous sample');
  const oneShot = (await daemon.api('GET', `/containers/${id}/stats?stream=false&one-shot=true`)).json();
  assert.equal(oneShot.preread, '0001-01-01T00:00:00Z');
  assert.ok(oneShot.memory_stats.usage > 0);
  const both = await daemon.api('GET', `/containers/${id}/stats?stream=true&one-shot=true`);
  assert.equal(both.status, 400);
  assert.equal(both.json().message, 'cannot have stream=true and one-shot=true');

  await daemon.berthOk(['stop', '-t', '0', id]);
  const zero = (await daemon.api('GET', `/containers/${id}/stats?stream=0`)).json();
  assert.equal(zero.read, '0001-01-01T00:00:00Z');
  assert.deepEqual(zero.memory_stats, {});
  assert.equal(zero.blkio_stats.io_service_bytes_recursive, null);
  assert.equal(zero.id, id);
  assert.equal((await daemon.api('GET', '/containers/nosuch/stats?stream=0')).status, 404);
  await daemon.berthOk(['rm', id]);
});

test('update changes the limits of a running container in its cgroup and in inspect', async () => {
  const id = await runDetached(['-m', '32m', 'busybox', 'sleep', '300']);
  assert.equal(memoryLimit(id), 32 * MiB);
  assert.equal(await daemon.berthOk(['update', '--memory', '48m', '--cpus', '0.5', '--pids-limit', '50', id]), `${id}\n`);
  assert.equal(memoryLimit(id), 48 * MiB);
  if (V2) {
    assert.equal(cgroupValue(id, 'cpu', '', 'cpu.max'), '50000 100000');
  } else {
    assert.equal(cgroupValue(id, 'cpu', 'cpu.cfs_quota_us', ''), '50000');
    assert.equal(cgroupValue(id, 'cpu', 'cpu.cfs_period_us', ''), '100000');
  }
  assert.equal(cgroupValue(id, 'pids', 'pids.max', 'pids.max'), '50');
  assert.equal(await inspectField(id, '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}'),
    `${48 * MiB} ${64 * MiB} 500000000 50`);
  await daemon.berthOk(['update', '--restart', 'on-failure:3', id]);
  assert.equal(await inspectField(id, '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}'), 'on-failure 3');

  const small = await daemon.berth(['update', '--memory', '1m', id]);
  assert.equal(small.code, 1);
  assert.equal(small.stderr, 'Error response from daemon: Minimum memory limit allowed is 6MB\n');
  const conflicting = await daemon.api('POST', `/containers/${id}/update`, { NanoCpus: 1e9, CpuPeriod: 100000 });
  assert.equal(conflicting.status, 400);
  assert.equal(conflicting.json().message, 'Conflicting options: Nano CPUs and CPU Period cannot both be set');
  const period = await daemon.berth(['update', '--cpu-period', '50000', id]);
  assert.equal(period.stderr, `Error response from daemon: Cannot update container ${id}: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set\n`);
  const noFlags = await daemon.berth(['update', id]);
  assert.equal(noFlags.code, 1);
  assert.equal(noFlags.stderr, 'you must provide one or more flags when using this command\n');
  await daemon.berthOk(['rm', '-f', id]);
});

test('update of a stopped container is kept for its next start; a failed runtime update changes nothing', async () => {
  const id = (await daemon.berthOk(['create', '--network', 'none', '-m', '32m', 'busybox', 'sleep', '300'])).trim();
  assert.equal(await daemon.berthOk(['update', '--memory', '48m', '--pids-limit', '40', id]), `${id}\n`);
  assert.equal(await inspectField(id, '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}'), `${48 * MiB} 40`);
  await daemon.berthOk(['start', id]);
  assert.equal(memoryLimit(id), 48 * MiB);
  assert.equal(cgroupValue(id, 'pids', 'pids.max', 'pids.max'), '40');
  await daemon.berthOk(['rm', '-f', id]);

  // 20 MB in the container's tmpfs cannot be reclaimed without swap: a 8 MB limit is refused.
  const full = await runDetached(['-m', '64m', 'busybox', 'sh', '-c', 'head -c 20000000 /dev/zero > /dev/shm/fill; echo filled; sleep 300']);
  await eventually(async () => (await daemon.berth(['logs', full])).stdout.includes('filled'), 10_000, 'tmpfs filled');
  const refused = await daemon.berth(['update', '--memory', '8m', '--memory-swap', '16m', full]);
  assert.equal(refused.code, 1, JSON.stringify(refused));
  assert.match(refused.stderr, new RegExp(`^Error response from daemon: Cannot update container ${full}: `));
  assert.equal(await inspectField(full, '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}'), `${64 * MiB} ${128 * MiB}`);
  assert.equal(memoryLimit(full), 64 * MiB);
  await daemon.berthOk(['rm', '-f', full]);
});

test('the docker CLI: top, stats --no-stream, pause/unpause, update', async () => {
  const id = await runDetached(['--name', 'dockerbox', '-m', '64m', 'busybox', 'sleep', '300']);
  const top = await daemon.dockerOk(['top', 'dockerbox']);
  assert.match(top, /^UID +PID +PPID +C +STIME +TTY +TIME +CMD\nroot +\d+ .*sleep 300\n$/);
  const aux = await daemon.dockerOk(['container', 'top', 'dockerbox', 'aux']);
  assert.match(aux.split('\n')[0]!, /^USER +PID +%CPU/);

  const stats = await daemon.dockerOk(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'dockerbox']);
  assert.match(stats, /^dockerbox [\d.]+(KiB|MiB) \/ 64MiB 1\n$/);
  const table = await daemon.dockerOk(['stats', '--no-stream']);
  assert.match(table, new RegExp(`^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS\n${id.slice(0, 12)} +dockerbox +\\d+\\.\\d\\d% `));
  assert.doesNotMatch(table, /--/);

  assert.equal(await daemon.dockerOk(['pause', 'dockerbox']), 'dockerbox\n');
  assert.match(await daemon.dockerOk(['ps', '--format', '{{.Status}}', '--filter', 'name=dockerbox']), /\(Paused\)/);
  const twice = await daemon.docker(['pause', 'dockerbox']);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, new RegExp(`Container ${id} is already paused`));
  assert.equal(await daemon.dockerOk(['unpause', 'dockerbox']), 'dockerbox\n');

  assert.equal(await daemon.dockerOk(['update', '--memory', '48m', '--cpus', '1.5', 'dockerbox']), 'dockerbox\n');
  assert.equal(memoryLimit(id), 48 * MiB);
  assert.equal(await inspectField(id, '{{.HostConfig.NanoCpus}}'), '1500000000');
  const restart = await daemon.dockerOk(['update', '--restart', 'always', 'dockerbox']);
  assert.equal(restart, 'dockerbox\n');
  assert.equal(await inspectField(id, '{{.HostConfig.RestartPolicy.Name}}'), 'always');
  await daemon.dockerOk(['rm', '-f', 'dockerbox']);
});
