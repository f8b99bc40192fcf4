// Container logs (streams kept apart, timestamps, tail, since, follow, TTY output) and the
// event stream (container and image events with their attributes, since/until, filters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BERTH, childEnv, eventually, useDaemon } from './harness.js';

const daemon = useDaemon();

const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;


/** A detached container that prints `lines`, then waits for SIGUSR1, prints "last" and exits. */
async function startWaitingForUsr1(lines: string[], flags: string[] = []): Promise<string> {
  const script = `trap 'echo last; exit 0' USR1; ${lines.map((line) => `echo ${line}`).join('; ')}; echo ready >&2; sleep 300 & wait`;
  const id = (await daemon.berthOk(['run', '-d', ...flags, 'busybox', 'sh', '-c', script])).trim();
  await eventually(async () => (await daemon.berth(['logs', id])).stderr.includes('ready'), 5000, 'container ready');
  return id;
}

function unixSeconds(date = new Date()): string {
  return (date.getTime() / 1000).toFixed(3);
}

test('logs keep stdout and stderr apart, in order', async () => {
  const id = (await daemon.berthOk(['run', '-d', 'busybox', 'sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2'])).trim();
  try {
    assert.equal(await daemon.berthOk(['wait', id]), '0\n');
    const logs = await daemon.berth(['logs', id]);
    assert.equal(logs.stdout, 'out1\nout2\n');
    assert.equal(logs.stderr, 'err1\nerr2\n');
    const viaDocker = await daemon.docker(['logs', id]);
    assert.equal(viaDocker.stdout, 'out1\nout2\n');
    assert.equal(viaDocker.stderr, 'err1\nerr2\n');
    const raw = await daemon.api('GET', `/containers/${id}/logs?stdout=1`);
    assert.equal(raw.status, 200);
    // Multiplexed: stream 1 frames only.
    const body = Buffer.from(raw.body, 'latin1');
    assert.equal(body[0], 1);
    assert.equal(body.readUInt32BE(4), 'out1\n'.length);
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
});

test('logs -t, --tail and --since', async () => {
  const id = await startWaitingForUsr1(['one', 'two', 'three']);
  try {
    const stamped = (await daemon.berthOk(['logs', '-t', id])).trim().split('\n');
    assert.equal(stamped.length, 3);
    const stamps = stamped.map((line) => line.split(' ')[0]);
    for (const stamp of stamps) assert.match(stamp, RFC3339_NANO);
    assert.deepEqual(stamped.map((line) => line.slice(line.indexOf(' ') + 1)), ['one', 'two', 'three']);
    assert.ok(stamps[0] <= stamps[1] && stamps[1] <= stamps[2]);

    // --tail counts entries of both streams: the last two are "three" (stdout) and "ready" (stderr).
    const tail = await daemon.berth(['logs', '--tail', '2', id]);
    assert.deepEqual([tail.stdout, tail.stderr], ['three\n', 'ready\n']);
    assert.equal(await daemon.berthOk(['logs', '--tail', '3', id]), 'two\nthree\n');
    assert.equal(await daemon.berthOk(['logs', '-n', '0', id]), '');
    assert.equal(await daemon.berthOk(['logs', '--tail', 'all', id]), 'one\ntwo\nthree\n');

    // Everything so far is older than `since`; only what comes after it is shown.
    await eventually(() => Date.now() > Date.parse(stamps[2]) + 5, 1000, 'clock past the last line');
    const since = unixSeconds();
    await eventually(() => Date.now() > Number(since) * 1000 + 5, 1000, 'clock past since');
    await daemon.berthOk(['kill', '-s', 'USR1', id]);
    assert.equal(await daemon.berthOk(['wait', id]), '0\n');
    assert.equal(await daemon.berthOk(['logs', '--since', since, id]), 'last\n');
    assert.equal(await daemon.berthOk(['logs', '--since', new Date(Number(since) * 1000).toISOString(), id]), 'last\n');
    assert.equal(await daemon.berthOk(['logs', '--until', since, id]), 'one\ntwo\nthree\n');
    assert.equal(await daemon.berthOk(['logs', '--since', '1h', id]), 'one\ntwo\nthree\nlast\n');
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
});

test('logs -f follows new lines and ends when the container stops', async () => {
  const id = await startWaitingForUsr1(['first']);
  try {
    const follower = spawn(process.execPath, [BERTH, '-H', daemon.host, 'logs', '-f', id], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    follower.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const ended = new Promise<number | null>((resolve) => follower.on('close', (code) => resolve(code)));
    let done = false;
    void ended.then(() => { done = true; });
    await eventually(() => output === 'first\n', 5000, 'the existing line');
    assert.equal(done, false, 'logs -f ended while the container was running');
    await daemon.berthOk(['kill', '-s', 'USR1', id]);
    const code = await Promise.race([ended, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
    if (code === 'timeout') follower.kill('SIGKILL');
    assert.equal(code, 0);
    assert.equal(output, 'first\nlast\n');
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
});

test('logs of a TTY container: one raw stream with CRLF line ends', async () => {
  const id = (await daemon.berthOk(['run', '-d', '-t', 'busybox', 'sh', '-c', 'echo on-tty; echo also-tty >&2'])).trim();
  try {
    assert.equal(await daemon.berthOk(['wait', id]), '0\n');
    const logs = await daemon.berth(['logs', id]);
    assert.equal(logs.stdout, 'on-tty\r\nalso-tty\r\n');
    assert.equal(logs.stderr, '');
    const raw = await daemon.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
    assert.equal(raw.body, 'on-tty\r\nalso-tty\r\n');
  } finally {
    await daemon.berth(['rm', '-f', id]);
  }
});

interface EventJson {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

async function eventsBetween(since: string, until: string, filters: string[] = []): Promise<EventJson[]> {
  const output = await daemon.berthOk(['events', '--since', since, '--until', until, '--format', '{{json .}}', ...filters.flatMap((filter) => ['--filter', filter])]);
  return output.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as EventJson);
}

test('container events: create, start, die, destroy with image, name and exitCode', async () => {
  const since = unixSeconds();
  const result = await daemon.berth(['run', '--rm', '--name', 'ev-box', '-l', 'team=qa', 'busybox', 'sh', '-c', 'exit 3']);
  assert.equal(result.code, 3);
  const id = (await daemon.berthOk(['run', '-d', '--name', 'ev-other', 'busybox', 'true'])).trim();
  await daemon.berthOk(['wait', id]);
  await daemon.berthOk(['rm', id]);
  const until = unixSeconds(new Date(Date.now() + 1000));

  const started = Date.now();
  const events = await eventsBetween(since, until, ['container=ev-box']);
  assert.ok(Date.now() - started < 5000, '--until in the past did not end the stream at once');
  const actions = events.map((event) => event.Action).filter((action) => action !== 'attach');
  assert.deepEqual(actions, ['create', 'start', 'die', 'destroy']);
  for (const event of events) {
    assert.equal(event.Type, 'container');
    assert.match(event.Actor.ID, /^[0-9a-f]{64}$/);
    assert.equal(event.Actor.Attributes.image, 'busybox');
    assert.equal(event.Actor.Attributes.name, 'ev-box');
    assert.equal(event.Actor.Attributes.team, 'qa');
  }
  const die = events.find((event) => event.Action === 'die');
  assert.equal(die?.Actor.Attributes.exitCode, '3');
  const times = events.map((event) => event.timeNano);
  assert.deepEqual([...times].sort((a, b) => a - b), times);

  const dies = await eventsBetween(since, until, ['event=die']);
  const mine = dies.filter((event) => event.Actor.Attributes.name.startsWith('ev-'));
  assert.deepEqual(mine.map((event) => [event.Actor.Attributes.name, event.Actor.Attributes.exitCode]), [['ev-box', '3'], ['ev-other', '0']]);
  assert.ok(dies.every((event) => event.Action === 'die'));
  const containerOnly = await eventsBetween(since, until, ['type=container']);
  assert.ok(containerOnly.length >= 8);
  assert.ok(containerOnly.every((event) => event.Type === 'container'));
  const byLabel = await eventsBetween(since, until, ['label=team=qa', 'event=destroy']);
  assert.deepEqual(byLabel.map((event) => event.Actor.Attributes.name), ['ev-box']);

  // The default line format: time, type, action, ID and the sorted attributes.
  const lines = (await daemon.berthOk(['events', '--since', since, '--until', until, '--filter', 'container=ev-box', '--filter', 'event=die'])).trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}(Z|[+-]\d{2}:\d{2}) container die [0-9a-f]{64} \(.*exitCode=3, image=busybox, name=ev-box, team=qa\)$/);
});

test('image events: import, tag, untag, delete through berth import/tag/rmi', async () => {
  const since = unixSeconds();
  const imported = (await daemon.berthOk(['import', daemon.busyboxRootfs(), 'ev/imported:1'])).trim();
  assert.match(imported, /^sha256:[0-9a-f]{64}$/);
  await daemon.berthOk(['tag', 'ev/imported:1', 'ev/second:2']);
  await daemon.berthOk(['rmi', 'ev/second:2']);
  await daemon.berthOk(['rmi', 'ev/imported:1']);
  const until = unixSeconds(new Date(Date.now() + 1000));

  const events = (await eventsBetween(since, until, ['type=image'])).filter((event) => event.Actor.ID === imported);
  // Docker tags the imported image before it reports the import.
  assert.deepEqual(events.map((event) => event.Action), ['tag', 'import', 'tag', 'untag', 'untag', 'delete']);
  assert.equal(events[0].Actor.Attributes.name, 'ev/imported:1');
  assert.equal(events[2].Actor.Attributes.name, 'ev/second:2');
  assert.equal(events[5].Actor.Attributes.name, imported);
  for (const event of events) assert.equal(event.Type, 'image');
  const deletes = await eventsBetween(since, until, ['type=image', 'event=delete']);
  assert.deepEqual(deletes.map((event) => event.Actor.ID), [imported]);
  const containerEvents = await eventsBetween(since, until, ['type=container']);
  assert.deepEqual(containerEvents, []);
});
