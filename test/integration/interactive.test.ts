// Interactive containers through a real terminal (tmux): run -it shows the shell's prompt,
// typed commands run, the window size and its changes reach the container, ctrl-c reaches the
// process, ctrl-p ctrl-q detaches and `attach` comes back to the same shell — with berth and
// with the docker CLI. Also the attach API for other clients: several at once, the websocket
// variant, resize and detach-key errors, and attach after berthd restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BERTH, childEnv, eventually, useDaemon } from './harness.js';
import { Terminal } from './terminal.js';

const daemon = useDaemon();

function berthLine(args: string): string {
  return `${process.execPath} ${BERTH} -H ${daemon.host} ${args}`;
}

function dockerLine(args: string): string {
  return `DOCKER_HOST=${daemon.host} DOCKER_CONFIG=${daemon.dockerConfig} docker ${args}`;
}

async function withTerminal(command: string, size: { columns: number; rows: number }, body: (terminal: Terminal) => Promise<void>): Promise<void> {
  const terminal = new Terminal(command, size);
  try {
    await body(terminal);
  } finally {
    terminal.close();
  }
}

async function state(name: string): Promise<string> {
  return (await daemon.berthOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).trim();
}

for (const client of ['berth', 'docker'] as const) {
  test(`${client}: run -it gives a terminal; ctrl-c, resize, detach and attach work`, async () => {
    const name = `${client}-shell`;
    const line = client === 'berth' ? berthLine : dockerLine;
    await withTerminal(line(`run -it --name ${name} busybox sh`), { columns: 100, rows: 30 }, async (terminal) => {
      await terminal.waitFor(/\/ # $/m);
      terminal.type('stty size; tty; MARK=kept-$((40+2))');
      terminal.press('Enter');
      await terminal.waitFor(/^30 100$/m);
      await terminal.waitFor(/^\/dev\/pts\/0$/m);
      terminal.resize(80, 20);
      // The client sends the new size as the window changes: poll until the shell sees it.
      await eventually(async () => {
        terminal.type('stty size');
        terminal.press('Enter');
        await terminal.waitFor(/^20 80$/m, 1000);
        return true;
      }, 10_000, 'the container to see the new size');
      terminal.type('sleep 100');
      terminal.press('Enter');
      await eventually(() => terminal.screen().trimEnd().endsWith('sleep 100'), 5000, 'sleep to run');
      terminal.press('C-c');
      await terminal.waitFor(/\^C\n\/ # $/);
      terminal.press('C-p', 'C-q');
      await terminal.waitFor(/\[exit 0\]/);
    });
    assert.equal(await state(name), 'running 0', 'detached, the container keeps running');

    await withTerminal(line(`attach ${name}`), { columns: 90, rows: 25 }, async (terminal) => {
      // Nothing is printed on attach; ask the same shell for what it was told before.
      await eventually(async () => {
        terminal.type('echo "mark=$MARK"');
        terminal.press('Enter');
        await terminal.waitFor(/^mark=kept-42$/m, 1000);
        return true;
      }, 10_000, 'the attached shell to answer');
      terminal.type('stty size; exit 3');
      terminal.press('Enter');
      await terminal.waitFor(/^25 90$/m);
      await terminal.waitFor(/\[exit 3\]/);
    });
    assert.equal(await state(name), 'exited 3');
  });
}

test('--detach-keys changes the sequence for run -it and attach', async () => {
  await withTerminal(berthLine('run -it --detach-keys ctrl-a,x --name keys busybox sh'), { columns: 80, rows: 24 }, async (terminal) => {
    await terminal.waitFor(/\/ # $/m);
    terminal.press('C-p', 'C-q');
    terminal.type('echo still-here');
    terminal.press('Enter');
    await terminal.waitFor(/^still-here$/m);
    terminal.press('C-a');
    terminal.type('x');
    await terminal.waitFor(/\[exit 0\]/);
  });
  assert.equal(await state('keys'), 'running 0');
  await withTerminal(berthLine('attach --detach-keys ctrl-b keys'), { columns: 80, rows: 24 }, async (terminal) => {
    await eventually(async () => {
      terminal.type('echo again');
      terminal.press('Enter');
      await terminal.waitFor(/^again$/m, 1000);
      return true;
    }, 10_000, 'the attached shell');
    terminal.press('C-b');
    // As the docker CLI does, attach reports a detach as the error that ended its stream.
    await terminal.waitFor(/read escape sequence\n\[exit 1\]/);
  });
  assert.equal(await state('keys'), 'running 0');
  await daemon.berthOk(['rm', '-f', 'keys']);
});

test('start -a -i attaches stdin and output of a created container', async () => {
  await daemon.berthOk(['create', '-i', '--name', 'catter', 'busybox', 'cat']);
  const result = await daemon.berth(['start', '-a', '-i', 'catter'], { input: 'through start\n' });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, 'through start\n');
  const docker = await daemon.docker(['start', '-a', '-i', 'catter'], { input: 'and docker\n' });
  assert.equal(docker.code, 0, docker.stderr);
  assert.equal(docker.stdout, 'and docker\n');
  await daemon.berthOk(['rm', 'catter']);
});

test('several clients attach at once; each sees the output, any one can type', async () => {
  await daemon.berthOk(['run', '-d', '-i', '--name', 'echoer', 'busybox', 'sh', '-c', 'while read line; do echo "got $line"; done']);
  const start = (stdin: boolean) => {
    const child = spawn(process.execPath, [BERTH, '-H', daemon.host, 'attach', ...(stdin ? [] : ['--no-stdin']), 'echoer'], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    return { child, output: () => output };
  };
  const typing = start(true);
  const watching = start(false);
  try {
    await eventually(async () => (await daemon.api('GET', '/containers/echoer/json')).json().State.Running, 5000);
    await eventually(() => {
      typing.child.stdin.write('hello\n');
      return watching.output().includes('got hello');
    }, 10_000, 'the watching client to see the typed line');
    assert.match(typing.output(), /got hello/);
  } finally {
    typing.child.kill();
    watching.child.kill();
  }
  // The clients left; the container did not.
  assert.equal(await state('echoer'), 'running 0');
  await daemon.berthOk(['rm', '-f', 'echoer']);
});

test('attach over a websocket carries stdin and raw output', async () => {
  const { WebSocket } = await import('ws');
  await daemon.berthOk(['run', '-d', '-i', '--name', 'wsc', 'busybox', 'sh', '-c', 'while read line; do echo "ws $line"; done']);
  const socket = new WebSocket(`ws+unix://${daemon.socket}:/v1.43/containers/wsc/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`);
  try {
    let received = '';
    let binary = true;
    socket.on('message', (data, isBinary) => {
      received += data.toString();
      binary &&= isBinary;
    });
    await new Promise<void>((resolve, reject) => { socket.once('open', () => resolve()); socket.once('error', reject); });
    await eventually(() => {
      socket.send(Buffer.from('ping\n'));
      return received.includes('ws ping');
    }, 10_000, 'the websocket to echo');
    assert.ok(binary, 'API >= 1.28 sends binary frames');
    assert.doesNotMatch(received, /\u0001\u0000\u0000\u0000/, 'never multiplexed');
  } finally {
    socket.close();
  }
  await daemon.berthOk(['rm', '-f', 'wsc']);
});

test('resize and attach errors are Docker\'s, and change nothing', async () => {
  await daemon.berthOk(['create', '--name', 'idle', 'busybox', 'true']);
  const notRunning = await daemon.api('POST', '/containers/idle/resize?h=10&w=10');
  assert.equal(notRunning.status, 409);
  assert.match(notRunning.json().message, /^container [0-9a-f]{64} is not running$/);
  const attachStopped = await daemon.berth(['attach', 'idle']);
  assert.equal(attachStopped.code, 1);
  assert.equal(attachStopped.stderr.trim(), 'You cannot attach to a stopped container, start it first');
  const missing = await daemon.api('POST', '/containers/nope/resize?h=10&w=10');
  assert.equal(missing.status, 404);
  assert.equal(missing.json().message, 'No such container: nope');

  await daemon.berthOk(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '100']);
  // Without a terminal there is nothing to resize; containerd answers success, and so does Docker.
  assert.equal((await daemon.api('POST', '/containers/plain/resize?h=10&w=10')).status, 200);
  const badKeys = await daemon.api('POST', '/containers/plain/attach?stream=1&stdout=1&detachKeys=ctrl-%3F%3F');
  assert.equal(badKeys.status, 400);
  assert.equal(badKeys.json().message, 'Invalid detach keys (ctrl-??) provided');
  assert.equal(await state('plain'), 'running 0');
  await daemon.berthOk(['rm', '-f', 'plain', 'idle']);
});

test('a terminal container can be attached again after berthd restarts', async () => {
  await daemon.berthOk(['run', '-dit', '--name', 'survivor', 'busybox', 'sh']);
  await daemon.stop();
  await daemon.start();
  await withTerminal(dockerLine('attach survivor'), { columns: 70, rows: 20 }, async (terminal) => {
    await eventually(async () => {
      terminal.type('stty size');
      terminal.press('Enter');
      await terminal.waitFor(/^20 70$/m, 1000);
      return true;
    }, 10_000, 'the shell to answer after the restart');
    terminal.press('C-p', 'C-q');
    await terminal.waitFor(/read escape sequence\n\[exit 1\]/);
  });
  assert.equal(await state('survivor'), 'running 0');
  await daemon.berthOk(['rm', '-f', 'survivor']);
});
