// A container's life through the CLI: create, start, stop (SIGTERM then SIGKILL), kill, wait,
// restart, rename, rm; ps and inspect output; run's exit codes; and after rm nothing of the
// container left on the host (directory, mounts, cgroups, conmon).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, eventually, mountsUnder, useDaemon } from './harness.js';

const daemon = useDaemon();


async function runDetached(args: string[]): Promise<string> {
  const id = (await daemon.berthOk(['run', '-d', ...args])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  return id;
}

async function inspectField(id: string, template: string): Promise<string> {
  return (await daemon.berthOk(['inspect', '-f', template, id])).replace(/\n$/, '');
}

function conmonFor(id: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', id], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Nothing of the container with this ID remains on the host. */
async function assertGone(id: string): Promise<void> {
  assert.equal(existsSync(join(daemon.dataRoot, 'containers', id)), false, 'container directory left');
  assert.deepEqual(mountsUnder(daemon.root).filter((point) => point.includes(id)), [], 'mounts left');
  for (const dir of cgroupDirs(daemon.cgroupParent)) {
    assert.equal(existsSync(join(dir, id)), false, `cgroup ${dir}/${id} left`);
  }
  await eventually(() => conmonFor(id).length === 0, 5000, `no process mentioning ${id}`);
  const inspect = await daemon.api('GET', `/containers/${id}/json`);
  assert.equal(inspect.status, 404);
}

test('create then start; run -d prints the full ID; inspect shows the states', async () => {
  const id = (await daemon.berthOk(['create', '--name', 'lc-create', 'busybox', 'sleep', '300'])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.Running}} {{.State.Pid}}'), 'created false 0');
  assert.equal(await daemon.berthOk(['start', 'lc-create']), 'lc-create\n');
  assert.equal(await inspectField('lc-create', '{{.State.Status}} {{.State.Running}}'), 'running true');
  // Starting a running container is not an error (304 from the API).
  assert.equal((await daemon.api('POST', `/containers/${id}/start`)).status, 304);
  assert.equal(await daemon.berthOk(['start', 'lc-create']), 'lc-create\n');
  const pid = Number(await inspectField(id, '{{.State.Pid}}'));
  assert.ok(pid > 1 && existsSync(`/proc/${pid}`), `pid ${pid}`);
  // Its root filesystem (the other mount with its ID is its network namespace, <exec-root>/netns/<id>).
  assert.deepEqual(mountsUnder(daemon.root).filter((point) => point.includes(id) && !point.includes('/netns/')).length, 1);
  assert.ok(mountsUnder(daemon.root).some((point) => point.endsWith(`/netns/${id}`)));
  for (const dir of cgroupDirs(daemon.cgroupParent).filter((dir) => !dir.includes('systemd') && !dir.includes('unified'))) {
    assert.ok(existsSync(join(dir, id)), `${dir}/${id} missing while running`);
  }
  assert.equal(await daemon.berthOk(['rm', '-f', id]), `${id}\n`);
  await assertGone(id);
  assert.equal(existsSync(`/proc/${pid}`), false, 'container process still alive');
});

test('stop sends SIGTERM: a trap that exits 0 makes exit code 0', async () => {
  const id = await runDetached(['busybox', 'sh', '-c', 'trap "echo got TERM; exit 0" TERM; echo ready; sleep 300 & wait']);
  await eventually(async () => (await daemon.berth(['logs', id])).stdout.includes('ready'), 5000, 'ready');
  const started = Date.now();
  assert.equal(await daemon.berthOk(['stop', id]), `${id}\n`);
  assert.ok(Date.now() - started < 5000, 'stop waited for the timeout although the process exited');
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
  assert.equal((await daemon.berth(['logs', id])).stdout, 'ready\ngot TERM\n');
  // Stopping a stopped container is not an error either (304).
  assert.equal((await daemon.api('POST', `/containers/${id}/stop`)).status, 304);
  assert.equal(await daemon.berthOk(['stop', id]), `${id}\n`);
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
  await daemon.berthOk(['rm', id]);
  await assertGone(id);
});

test('stop -t escalates to SIGKILL after the timeout: exit 137, taking about t seconds', async () => {
  // PID 1 without a handler ignores SIGTERM, so only SIGKILL ends it.
  const id = await runDetached(['busybox', 'sleep', '300']);
  const started = Date.now();
  await daemon.berthOk(['stop', '-t', '1', id]);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 4000, `stop took ${elapsed} ms`);
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}'), 'exited 137 false');
  await daemon.berthOk(['rm', id]);
});

test('kill -s USR1 reaches a trap; kill on a stopped container is an error; wait returns the code', async () => {
  const id = await runDetached(['busybox', 'sh', '-c', 'trap "echo got USR1; exit 7" USR1; echo ready; sleep 300 & wait']);
  await eventually(async () => (await daemon.berth(['logs', id])).stdout.includes('ready'), 5000, 'ready');
  const waiting = daemon.berth(['wait', id]);
  assert.equal(await daemon.berthOk(['kill', '-s', 'USR1', id]), `${id}\n`);
  const waited = await waiting;
  assert.equal(waited.stdout, '7\n', JSON.stringify(waited));
  assert.equal(waited.code, 0);
  assert.equal((await daemon.berth(['logs', id])).stdout, 'ready\ngot USR1\n');
  const again = await daemon.berth(['kill', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, new RegExp(`^Error response from daemon: Cannot kill container: ${id}: Container ${id} is not running\n$`), again.stderr);
  const killed = await runDetached(['busybox', 'sleep', '300']);
  await daemon.berthOk(['kill', killed]);
  assert.equal(await daemon.berthOk(['wait', killed]), '137\n');
  await daemon.berthOk(['rm', id, killed]);
});

test('restart gives a new StartedAt and leaves the container running', async () => {
  const id = await runDetached(['busybox', 'sleep', '300']);
  const before = await inspectField(id, '{{.State.StartedAt}} {{.State.Pid}}');
  assert.equal(await daemon.berthOk(['restart', '-t', '0', id]), `${id}\n`);
  const after = await inspectField(id, '{{.State.StartedAt}} {{.State.Pid}}');
  assert.notEqual(after.split(' ')[0], before.split(' ')[0]);
  assert.notEqual(after.split(' ')[1], before.split(' ')[1]);
  assert.ok(Date.parse(after.split(' ')[0]) > Date.parse(before.split(' ')[0]));
  assert.equal(await inspectField(id, '{{.State.Status}} {{.RestartCount}}'), 'running 0');
  await daemon.berthOk(['stop', '-t', '0', id]);
  await daemon.berthOk(['restart', id]);
  assert.equal(await inspectField(id, '{{.State.Status}} {{.State.ExitCode}}'), 'running 0');
  await daemon.berthOk(['rm', '-f', id]);
  await assertGone(id);
});

test('--rm removes the container after it exits, also when it was detached', async () => {
  const result = await daemon.berth(['run', '--rm', '--name', 'lc-rm', 'busybox', 'true']);
  assert.equal(result.code, 0);
  assert.equal((await daemon.api('GET', '/containers/lc-rm/json')).status, 404);
  const id = await runDetached(['--rm', 'busybox', 'sh', '-c', 'sleep 0.3']);
  await eventually(async () => (await daemon.api('GET', `/containers/${id}/json`)).status === 404, 10_000, 'auto-removal');
  await assertGone(id);
});

test('rename frees the old name; names are unique; unique ID prefixes are accepted', async () => {
  const id = (await daemon.berthOk(['create', '--name', 'lc-old', 'busybox'])).trim();
  await daemon.berthOk(['rename', 'lc-old', 'lc-new']);
  assert.equal(await inspectField(id, '{{.Name}}'), '/lc-new');
  const reuse = (await daemon.berthOk(['create', '--name', 'lc-old', 'busybox'])).trim();
  const duplicate = await daemon.berth(['create', '--name', 'lc-new', 'busybox']);
  assert.equal(duplicate.code, 1);
  assert.match(duplicate.stderr, new RegExp(`Conflict\\. The container name "/lc-new" is already in use by container "${id}"\\. You have to remove \\(or rename\\) that container to be able to reuse that name\\.`), duplicate.stderr);
  const renameTaken = await daemon.berth(['rename', 'lc-old', 'lc-new']);
  assert.equal(renameTaken.code, 1);
  assert.match(renameTaken.stderr, /already in use/);
  const renameSame = await daemon.api('POST', `/containers/${id}/rename?name=lc-new`);
  assert.equal(renameSame.status, 400);
  assert.equal(renameSame.json().message, 'Renaming a container with the same name as its current name');
  // The shortest prefix that is unique among the two.
  let length = 1;
  while (reuse.startsWith(id.slice(0, length))) length++;
  assert.equal(await inspectField(id.slice(0, length), '{{.Id}}'), id);
  assert.equal(await inspectField(id.slice(0, 12), '{{.Name}}'), '/lc-new');
  await daemon.berthOk(['rm', id, reuse]);
});

test('an ambiguous ID prefix is refused (400), a name wins over an ID prefix', async () => {
  // Among 17 containers two share their first hex digit.
  const byFirst = new Map<string, string>();
  const made: string[] = [];
  let pair: [string, string] | undefined;
  try {
    while (!pair) {
      const id = (await daemon.berthOk(['create', 'busybox'])).trim();
      made.push(id);
      const earlier = byFirst.get(id[0]);
      if (earlier) pair = [earlier, id];
      byFirst.set(id[0], id);
    }
    const shared = commonPrefix(pair[0], pair[1]);
    const response = await daemon.api('GET', `/containers/${shared}/json`);
    assert.equal(response.status, 400, response.body);
    assert.equal(JSON.parse(response.body).message, `multiple IDs found with provided prefix: ${shared}`);
    const cli = await daemon.berth(['container', 'inspect', shared]);
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr, `Error response from daemon: multiple IDs found with provided prefix: ${shared}\n`);
    const rm = await daemon.berth(['rm', shared]);
    assert.equal(rm.code, 1);
    assert.equal((await daemon.api('GET', `/containers/${pair[0]}/json`)).status, 200);
    // A container named like another's ID prefix: the name is looked up first.
    const prefix = pair[0].slice(0, 3);
    assert.equal(await inspectField(prefix, '{{.Id}}'), pair[0]);
    const named = (await daemon.berthOk(['create', '--name', prefix, 'busybox'])).trim();
    made.push(named);
    assert.equal(await inspectField(prefix, '{{.Id}}'), named);
  } finally {
    if (made.length > 0) await daemon.berth(['rm', '-f', ...made]);
  }
});

function commonPrefix(a: string, b: string): string {
  let length = 0;
  while (length < a.length && a[length] === b[length]) length++;
  return a.slice(0, length);
}

test('ps: -a, -q, -l, -n, --no-trunc, --format and filters', async () => {
  // A failure in an earlier test must not fail this one as well.
  for (const container of (await daemon.api('GET', '/containers/json?all=1')).json() as Array<{ Id: string }>) await daemon.berthOk(['rm', '-f', container.Id]);
  const exited = (await daemon.berthOk(['create', '--name', 'ps-exited', '-l', 'role=done', 'busybox', 'sh', '-c', 'exit 3'])).trim();
  await daemon.berth(['start', '-a', exited]);
  const running = await runDetached(['--name', 'ps-running', '-l', 'role=web', 'busybox', 'sleep', '300']);
  const created = (await daemon.berthOk(['create', '--name', 'ps-created', 'busybox'])).trim();
  try {
    assert.equal(await daemon.berthOk(['ps', '-q']), `${running.slice(0, 12)}\n`);
    assert.deepEqual((await daemon.berthOk(['ps', '-aq'])).trim().split('\n'), [created, running, exited].map((id) => id.slice(0, 12)));
    assert.equal(await daemon.berthOk(['ps', '-q', '--no-trunc']), `${running}\n`);
    assert.equal(await daemon.berthOk(['ps', '-lq']), `${created.slice(0, 12)}\n`);
    assert.equal(await daemon.berthOk(['ps', '-q', '-n', '2']), `${created.slice(0, 12)}\n${running.slice(0, 12)}\n`);
    assert.equal(await daemon.berthOk(['ps', '-a', '--format', '{{.ID}} {{.Names}}']),
      `${created.slice(0, 12)} ps-created\n${running.slice(0, 12)} ps-running\n${exited.slice(0, 12)} ps-exited\n`);
    const filter = async (...filters: string[]) => (await daemon.berthOk(['ps', '-a', '--format', '{{.Names}}', ...filters.flatMap((f) => ['--filter', f])])).trim().split('\n').filter(Boolean);
    assert.deepEqual(await filter('status=exited'), ['ps-exited']);
    assert.deepEqual(await filter('status=created'), ['ps-created']);
    assert.deepEqual(await filter('status=running'), ['ps-running']);
    assert.deepEqual(await filter('name=ps-run'), ['ps-running']);
    assert.deepEqual(await filter('label=role=web'), ['ps-running']);
    assert.deepEqual(await filter('label=role'), ['ps-running', 'ps-exited']);
    assert.deepEqual(await filter('ancestor=busybox'), ['ps-created', 'ps-running', 'ps-exited']);
    assert.deepEqual(await filter('exited=3'), ['ps-exited']);
    assert.deepEqual(await filter('exited=0'), []);
    assert.deepEqual(await filter(`id=${running.slice(0, 6)}`), ['ps-running']);
    assert.deepEqual(await filter('status=exited', 'status=running'), ['ps-running', 'ps-exited']);
    const table = await daemon.berthOk(['ps', '-a']);
    const [header, ...rows] = table.trim().split('\n');
    assert.match(header, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(rows.find((row) => row.includes('ps-exited')) ?? '', /Exited \(3\) .* ago/);
    assert.match(rows.find((row) => row.includes('ps-running')) ?? '', /Up .*"sleep 300"|"sleep 300".*Up /);
    const sized = await daemon.berthOk(['ps', '-s', '--format', '{{.Names}} {{.Size}}']);
    assert.match(sized, /^ps-running \d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)\n$/, sized);
    const tableSized = await daemon.berthOk(['ps', '-s']);
    assert.match(tableSized.split('\n')[0], /NAMES\s+SIZE$/);
  } finally {
    await daemon.berth(['rm', '-f', exited, running, created]);
  }
});

test('inspect -f: the common Go template forms', async () => {
  const id = (await daemon.berthOk(['create', '--name', 'tmpl', '-l', 'k=v', '-l', 'other=x', '-e', 'A=1', '-e', 'B=2', 'busybox', 'echo', 'x', 'y'])).trim();
  try {
    assert.equal(await inspectField(id, '{{.State.Status}}'), 'created');
    assert.equal(await inspectField(id, '{{json .Config.Cmd}}'), '["echo","x","y"]');
    assert.equal(await inspectField(id, '{{index .Config.Labels "k"}}'), 'v');
    assert.equal(await inspectField(id, '{{range .Config.Env}}[{{.}}]{{end}}'), '[A=1][B=2]');
    assert.equal(await inspectField(id, '{{if .State.Running}}up{{else}}down{{end}}'), 'down');
    assert.equal(await inspectField(id, '{{join .Args ","}}'), 'x,y');
    assert.equal(await inspectField(id, '{{.Path}}'), 'echo');
    assert.equal(await inspectField(id, '{{.Name}}'), '/tmpl');
    assert.equal(await inspectField(id, '{{.Config.Labels}}'), 'map[k:v other:x]');
    assert.equal(await inspectField(id, '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}'), 'k=v;other=x;');
    assert.equal(await inspectField(id, '{{.Id}}'), id);
    assert.equal(await inspectField(id, '{{.Image}}'), (await daemon.berthOk(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim());
    const twoIds = await daemon.berthOk(['inspect', '-f', '{{.Name}}', id, id.slice(0, 12)]);
    assert.equal(twoIds, '/tmpl\n/tmpl\n');
    const bad = await daemon.berth(['inspect', '-f', '{{.Nope', id]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /template/);
  } finally {
    await daemon.berthOk(['rm', id]);
  }
});

test('run exit codes: the container\'s code, 125 for berth errors, 126 not executable, 127 not found', async () => {
  assert.equal((await daemon.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 42'])).code, 42);
  const notFound = await daemon.berth(['run', '--name', 'lc-127', 'busybox', 'nosuchcommand']);
  assert.equal(notFound.code, 127, JSON.stringify(notFound));
  assert.match(notFound.stderr, /exec: "nosuchcommand": executable file not found in \$PATH/);
  assert.match(notFound.stderr, /^docker: Error response from daemon: |^berth: Error response from daemon: /);
  assert.equal(await inspectField('lc-127', '{{.State.Status}} {{.State.ExitCode}}'), 'created 127');
  await daemon.berthOk(['rm', 'lc-127']);
  const notExecutable = await daemon.berth(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notExecutable.code, 126, JSON.stringify(notExecutable));
  assert.match(notExecutable.stderr, /permission denied/);
  const badFlag = await daemon.berth(['run', '--no-such-flag', 'busybox']);
  assert.equal(badFlag.code, 125);
  assert.match(badFlag.stderr, /unknown flag: --no-such-flag/);
  // --pull never: a pull would look up an outside registry's name.
  const noImage = await daemon.berth(['run', '--pull', 'never', 'nosuchimage']);
  assert.equal(noImage.code, 125, JSON.stringify(noImage));
  assert.match(noImage.stderr, /No such image: nosuchimage:latest/);
  const unreachable = await daemon.berth(['run', '127.0.0.1:1/nosuchimage']);
  assert.equal(unreachable.code, 125, JSON.stringify(unreachable));
  assert.match(unreachable.stderr, /^Unable to find image '127\.0\.0\.1:1\/nosuchimage:latest' locally\n/);
  // Nothing left by the failures.
  assert.deepEqual((await daemon.api('GET', '/containers/json?all=1')).json(), []);
  assert.deepEqual(mountsUnder(daemon.root), []);
});

test('rm -f of a running container kills it and leaves nothing', async () => {
  const id = await runDetached(['--name', 'lc-force', 'busybox', 'sleep', '300']);
  const pid = Number(await inspectField(id, '{{.State.Pid}}'));
  const started = Date.now();
  assert.equal(await daemon.berthOk(['rm', '-f', 'lc-force']), 'lc-force\n');
  assert.ok(Date.now() - started < 5000);
  assert.equal(existsSync(`/proc/${pid}`), false);
  await assertGone(id);
  assert.deepEqual(readdirSync(join(daemon.dataRoot, 'containers')), []);
});
