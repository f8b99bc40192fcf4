// The real docker CLI against berthd: what it prints (headers, ID lengths, messages), its exit
// codes, and that nothing in our API makes it trip (missing fields, wrong statuses, headers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { eventually, useDaemon, type CommandResult } from './harness.js';

const daemon = useDaemon();
const docker = (...args: string[]) => daemon.dockerOk(args);

function ok(result: CommandResult, what = 'docker'): string {
  assert.equal(result.code, 0, `${what} failed: ${JSON.stringify(result)}`);
  return result.stdout;
}


/** The table's header words, split on docker's column gaps (two or more spaces). */
function header(table: string): string[] {
  return table.split('\n')[0].trim().split(/ {2,}/);
}

test('docker version and docker info show our engine', async () => {
  const version = await docker('version');
  assert.match(version, /^Server: berth$/m);
  assert.match(version, /^ Engine:\n {2}Version: +\d+\.\d+\.\d+$/m);
  assert.match(version, /^ {2}API version: +1\.43 \(minimum version 1\.24\)$/m);
  assert.equal((await docker('version', '--format', '{{.Server.APIVersion}}')).trim(), '1.43');
  const info = await docker('info');
  assert.match(info, /^ Storage Driver: overlay2$/m);
  assert.match(info, /^ Default Runtime: crun$/m);
  assert.match(info, /^ Live Restore Enabled: true$/m);
  assert.doesNotMatch(info, /WARNING|ERROR|error/i, info);
  assert.equal((await docker('info', '--format', '{{.DockerRootDir}}')).trim(), daemon.dataRoot);
});

test('docker import from a file and from stdin, with -c and -m; images, image ls, history', async () => {
  const fromFile = (await docker('import', '-c', 'CMD ["sh"]', '-c', 'ENV A=b', '-m', 'from a file', daemon.busyboxRootfs(), 'imp/file:v1')).trim();
  assert.match(fromFile, /^sha256:[0-9a-f]{64}$/);
  const piped = await daemon.docker(['import', '-c', 'CMD ["sh"]', '-c', 'ENV A=b', '-m', 'piped', '-', 'imp/stdin'], { input: await readFile(daemon.busyboxRootfs()) });
  const fromStdin = ok(piped).trim();
  assert.match(fromStdin, /^sha256:[0-9a-f]{64}$/);

  const table = await docker('images');
  assert.deepEqual(header(table), ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
  const fileRow = table.split('\n').find((line) => line.startsWith('imp/file '));
  assert.ok(fileRow, table);
  assert.match(fileRow, new RegExp(`^imp/file +v1 +${fromFile.slice(7, 19)} +(Less than a second|\\d+ seconds?) ago +\\d`));
  assert.match(table, /^imp\/stdin +latest +[0-9a-f]{12} /m);

  assert.equal(await docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}', 'imp/file'), `imp/file:v1 ${fromFile.slice(7, 19)}\n`);
  assert.equal(await docker('images', '-q', '--no-trunc', 'imp/stdin'), `${fromStdin}\n`);
  assert.equal(await docker('inspect', '-f', '{{json .Config.Cmd}} {{json .Config.Env}} {{.Comment}}', 'imp/file:v1'), '["sh"] ["A=b"] from a file\n');

  const history = await docker('history', 'imp/stdin');
  assert.deepEqual(header(history), ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
  assert.match(history.split('\n')[1], new RegExp(`^${fromStdin.slice(7, 19)} .* piped$`));
  assert.match(await docker('history', '--no-trunc', '--format', '{{.ID}}|{{.Comment}}', 'imp/file:v1'), new RegExp(`^${fromFile}\\|from a file\\n$`));

  // The environment set by -c reaches a container.
  assert.equal(await docker('run', '--rm', 'imp/file:v1', 'sh', '-c', 'echo $A'), 'b\n');
});

test('docker tag and rmi: untag lines, delete lines, 409 while a container uses the image, -f', async () => {
  const id = (await docker('import', '-c', 'CMD ["sh"]', daemon.busyboxRootfs(), 'rmi/a:1')).trim();
  await docker('tag', 'rmi/a:1', 'rmi/a:2');
  await docker('tag', 'rmi/a:1', 'rmi/b');
  assert.equal(await docker('images', '-q', '--no-trunc', '--filter', 'reference=rmi/*'), `${id}\n${id}\n${id}\n`);

  assert.equal(await docker('rmi', 'rmi/a:2'), 'Untagged: rmi/a:2\n');
  const name = 'rmi-user';
  await docker('create', '--name', name, 'rmi/a:1', 'true');
  // Another tag remains: untagging one is fine even though a container uses the image.
  assert.equal(await docker('rmi', 'rmi/b'), 'Untagged: rmi/b:latest\n');
  const refused = await daemon.docker(['rmi', id.slice(7, 19)]);
  assert.equal(refused.code, 1, JSON.stringify(refused));
  assert.match(refused.stderr, /^Error response from daemon: conflict: unable to (delete|remove repository reference).*must.*force.*container [0-9a-f]{12}/m);
  const lastTag = await daemon.docker(['rmi', 'rmi/a:1']);
  assert.equal(lastTag.code, 1);
  assert.match(lastTag.stderr, /^Error response from daemon: conflict: unable to remove repository reference "rmi\/a:1" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}$/m);

  const forced = await docker('rmi', '-f', 'rmi/a:1');
  assert.match(forced, /^Untagged: rmi\/a:1$/m);
  assert.match(forced, new RegExp(`^Deleted: ${id}$`, 'm'));
  await docker('rm', name);

  const missing = await daemon.docker(['rmi', 'rmi/none']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim(), 'Error response from daemon: No such image: rmi/none:latest');
});

test('docker run attached: output, stderr and exit code; failures exit 125/127', async () => {
  const result = await daemon.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.equal(result.stdout, 'out\n');
  assert.equal(result.stderr, 'err\n');
  assert.equal(result.code, 7);

  // Docker removes an --rm container whose start failed and its CLI waits for that: bounded here.
  const notFound = await daemon.docker(['run', '--rm', 'busybox', 'no-such-command'], { timeoutMs: 15_000 });
  assert.equal(notFound.code, 127, JSON.stringify(notFound));
  assert.match(notFound.stderr, /executable file not found in \$PATH/);
  const badImage = await daemon.docker(['run', '--rm', 'no-such-image-here']);
  assert.equal(badImage.code, 125);
  const badRuntime = await daemon.docker(['run', '--rm', '--runtime', 'nosuch', 'busybox', 'true']);
  assert.equal(badRuntime.code, 125);
  assert.match(badRuntime.stderr, /^docker: Error response from daemon: Unknown runtime specified nosuch$/m);
  // A failed --rm run leaves nothing behind (docker waits for the removal; it must happen).
  assert.equal(await docker('ps', '-aq'), '');
});

test('docker run options: -e -w -u -h --entrypoint --name -l, and limits in HostConfig', async () => {
  const out = await docker('run', '--rm', '-e', 'FOO=bar', '-w', '/tmp', '-u', '1000:1000', '-h', 'box', 'busybox',
    'sh', '-c', 'echo $FOO $(pwd) $(id -u):$(id -g) $(hostname)');
  assert.equal(out, 'bar /tmp 1000:1000 box\n');
  assert.equal(await docker('run', '--rm', '--entrypoint', 'echo', 'busybox', 'a', 'b'), 'a b\n');

  const id = (await docker('run', '-d', '--name', 'opts', '-l', 'tier=web', '-l', 'flag', '-m', '64m', '--cpus', '0.5', '--pids-limit', '50', 'busybox', 'sleep', '300')).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(await docker('inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}', 'opts'), '67108864 500000000 50\n');
  assert.equal(await docker('inspect', '-f', '{{json .Config.Labels}}', 'opts'), '{"flag":"","tier":"web"}\n');
  await docker('rm', '-f', 'opts');
});

test('docker ps: headers, -a, -q, --filter, --format, --no-trunc; container ls', async () => {
  const running = (await docker('run', '-d', '--name', 'ps-up', '-l', 'role=ps', 'busybox', 'sleep', '300')).trim();
  assert.equal((await daemon.docker(['run', '--name', 'ps-done', '-l', 'role=ps', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
  const table = await docker('ps');
  assert.deepEqual(header(table), ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']);
  assert.match(table, new RegExp(`^${running.slice(0, 12)} +busybox +"sleep 300" +.* ago +Up .* +ps-up$`, 'm'));
  assert.doesNotMatch(table, /ps-done/);
  assert.match(await docker('ps', '-a'), /^[0-9a-f]{12} +busybox +"sh -c exit 3" +.* +Exited \(3\) .* ago +ps-done$/m);
  assert.equal(await docker('ps', '-q', '--filter', 'name=ps-up'), `${running.slice(0, 12)}\n`);
  assert.equal(await docker('ps', '-aq', '--no-trunc', '--filter', 'name=ps-up'), `${running}\n`);
  // (Not {{.Status}}: two calls may fall either side of a second, "1 second ago" then "2 seconds ago".)
  assert.equal(await docker('ps', '-a', '--filter', 'label=role=ps', '--filter', 'status=exited', '--format', '{{.Names}} {{.State}}'), 'ps-done exited\n');
  assert.equal(await docker('ps', '-a', '--filter', 'exited=3', '--format', '{{.Names}}'), 'ps-done\n');
  assert.equal(await docker('ps', '--format', '{{.Names}}|{{.Label "role"}}|{{.State}}', '--filter', 'label=role'), 'ps-up|ps|running\n');
  assert.equal(await docker('container', 'ls', '-a', '--format', '{{.ID}}', '--filter', 'name=ps-up', '--no-trunc'), `${running}\n`);
  const json = JSON.parse((await docker('container', 'ls', '--format', 'json', '--filter', 'name=ps-up')).trim()) as Record<string, string>;
  assert.equal(json.Names, 'ps-up');
  assert.equal(json.Command, '"sleep 300"');
  const badFilter = await daemon.docker(['ps', '--filter', 'status=sleepy']);
  assert.equal(badFilter.code, 1);
  assert.match(badFilter.stderr, /^Error response from daemon: invalid filter 'status=sleepy'/m);
  await docker('rm', '-f', 'ps-up', 'ps-done');
});

test('docker logs: --tail, -t, -f ending when the container exits', async () => {
  await docker('run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'for i in 1 2 3 4; do echo line$i; sleep 0.2; done; echo bye >&2');
  const followed = await daemon.docker(['logs', '-f', 'talker'], { timeoutMs: 20_000 });
  assert.equal(followed.code, 0);
  assert.equal(followed.stdout, 'line1\nline2\nline3\nline4\n');
  assert.equal(followed.stderr, 'bye\n');
  assert.equal(await docker('logs', '--tail', '2', 'talker'), 'line4\n');
  const stamped = await daemon.docker(['logs', '-t', '--tail', '1', 'talker']);
  assert.match(stamped.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z bye\n$/);
  assert.equal((await daemon.docker(['logs', '--tail', '0', 'talker'])).stdout, '');
  const missing = await daemon.docker(['logs', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: No such container: nosuch\n');
  await docker('rm', 'talker');
});

test('docker inspect -f with several template forms', async () => {
  const id = (await docker('run', '-d', '--name', 'tpl', '-e', 'X=1', '-e', 'Y=2', '-l', 'k=v', 'busybox', 'sleep', '300')).trim();
  assert.equal(await docker('inspect', '-f', '{{.Id}}', 'tpl'), `${id}\n`);
  assert.equal(await docker('inspect', '--format', '{{.Name}} {{.State.Status}} {{.State.Running}}', 'tpl'), '/tpl running true\n');
  assert.equal(await docker('inspect', '-f', '{{index .Config.Labels "k"}} {{len .Args}} {{index .Args 0}}', 'tpl'), 'v 1 300\n');
  // The docker CLI sends repeated -e values in Go map order, so only the set is stable.
  const env = (await docker('inspect', '-f', '{{range .Config.Env}}{{.}};{{end}}', 'tpl')).trim().split(';').filter(Boolean);
  assert.deepEqual(env.sort(), ['X=1', 'Y=2']);
  assert.equal(await docker('inspect', '-f', '{{if .State.Running}}up{{else}}down{{end}} {{upper .Config.Hostname}}', 'tpl'), `up ${id.slice(0, 12).toUpperCase()}\n`);
  assert.equal(await docker('inspect', '-f', '{{json .Config.Cmd}}', 'tpl'), '["sleep","300"]\n');
  assert.equal(await docker('inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', 'tpl'), 'no\n');
  assert.match(await docker('inspect', '-f', '{{.State.Pid}}', 'tpl'), /^[1-9]\d*\n$/);
  const list = JSON.parse(await docker('inspect', 'tpl', 'busybox')) as Array<{ Id: string }>;
  assert.equal(list.length, 2);
  assert.equal(await docker('container', 'inspect', '-f', '{{.Image}}', 'tpl'), await docker('image', 'inspect', '-f', '{{.Id}}', 'busybox'));
  const missing = await daemon.docker(['inspect', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '[]\n');
  assert.equal(missing.stderr, 'Error: No such object: nosuch\n');
  await docker('rm', '-f', 'tpl');
});

test('docker stop -t, kill -s, wait, restart, rename, rm -f and their messages', async () => {
  // A trap on TERM: stop ends it at once with the trap's code.
  await docker('run', '-d', '--name', 'trapper', 'busybox', 'sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.1; done');
  const stopStart = Date.now();
  assert.equal(await docker('stop', '-t', '5', 'trapper'), 'trapper\n');
  assert.ok(Date.now() - stopStart < 4000, 'the TERM trap ended it before the timeout');
  assert.equal(await docker('wait', 'trapper'), '42\n');

  // PID 1 ignores TERM without a handler: stop escalates to KILL after -t.
  await docker('run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '300');
  const killStart = Date.now();
  await docker('stop', '-t', '1', 'sleeper');
  const took = Date.now() - killStart;
  assert.ok(took >= 900 && took < 6000, `stop -t 1 took ${took} ms`);
  assert.equal(await docker('inspect', '-f', '{{.State.ExitCode}} {{.State.Running}}', 'sleeper'), '137 false\n');

  // kill -s USR1 to a trapping shell; then a plain kill (SIGKILL) after which rm needs no -f.
  await docker('run', '-d', '--name', 'signals', 'busybox', 'sh', '-c', 'trap "exit 10" USR1; while true; do sleep 0.1; done');
  assert.equal(await docker('kill', '-s', 'USR1', 'signals'), 'signals\n');
  assert.equal(await docker('wait', 'signals'), '10\n');
  await docker('start', 'signals');
  await docker('kill', 'signals');
  assert.equal(await docker('rm', 'signals'), 'signals\n');
  const notRunning = await daemon.docker(['kill', 'sleeper']);
  assert.equal(notRunning.code, 1);
  assert.match(notRunning.stderr, /^Error response from daemon: .*is not running/im);

  // restart: a new process.
  await docker('start', 'sleeper');
  const pidBefore = (await docker('inspect', '-f', '{{.State.Pid}}', 'sleeper')).trim();
  assert.equal(await docker('restart', '-t', '0', 'sleeper'), 'sleeper\n');
  const after = (await docker('inspect', '-f', '{{.State.Running}} {{.State.Pid}}', 'sleeper')).trim().split(' ');
  assert.equal(after[0], 'true');
  assert.notEqual(after[1], pidBefore);

  // rename, then rm without and with -f.
  await docker('rename', 'sleeper', 'renamed');
  assert.equal(await docker('ps', '--format', '{{.Names}}', '--filter', 'name=renamed'), 'renamed\n');
  const taken = await daemon.docker(['rename', 'renamed', 'trapper']);
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, /Conflict\. The container name "\/trapper" is already in use by container "[0-9a-f]{64}"/);
  const refused = await daemon.docker(['rm', 'renamed']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^Error response from daemon: You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove$/m);
  assert.equal(await docker('rm', '-f', 'renamed', 'trapper'), 'renamed\ntrapper\n');
  const gone = await daemon.docker(['rm', 'renamed']);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, 'Error response from daemon: No such container: renamed\n');
  const stopMissing = await daemon.docker(['stop', 'renamed']);
  assert.equal(stopMissing.code, 1);
  assert.equal(stopMissing.stderr, 'Error response from daemon: No such container: renamed\n');
});

test('docker events --since/--until --filter: create, start, die, destroy lines', async () => {
  const since = (Date.now() / 1000).toFixed(3);
  await docker('run', '--rm', '--name', 'evented', 'busybox', 'true');
  const lines = await eventually(async () => {
    const output = await docker('events', '--since', since, '--until', (Date.now() / 1000).toFixed(3), '--filter', 'container=evented', '--filter', 'type=container');
    return output.includes(' container destroy ') ? output : '';
  }, 10_000, 'the destroy event');
  const actions = lines.trim().split('\n').map((line) => {
    const match = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container (\S+) ([0-9a-f]{64}) \((.*)\)$/.exec(line);
    assert.ok(match, line);
    assert.match(match[3] ?? '', /image=busybox, name=evented/);
    return match[1] ?? '';
  });
  for (const action of ['create', 'start', 'die', 'destroy']) assert.ok(actions.includes(action), actions.join(','));
  assert.ok(actions.indexOf('create') < actions.indexOf('start') && actions.indexOf('start') < actions.indexOf('die') && actions.indexOf('die') < actions.indexOf('destroy'), actions.join(','));
  const until = (Date.now() / 1000).toFixed(3);
  const dies = await docker('events', '--since', since, '--until', until, '--filter', 'event=die', '--format', '{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}');
  assert.match(dies, /^evented 0$/m);
  const json = await docker('events', '--since', since, '--until', until, '--filter', 'event=destroy', '--filter', 'container=evented', '--format', '{{json .}}');
  const event = JSON.parse(json.trim()) as { Type: string; Action: string; Actor: { ID: string }; time: number; timeNano: number };
  assert.equal(event.Type, 'container');
  assert.equal(event.Action, 'destroy');
  assert.ok(Math.abs(event.time * 1e9 - event.timeNano) < 1e9);
});
