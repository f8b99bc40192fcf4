// Crash consistency: berthd is killed with SIGKILL at random moments while containers are
// created, started (6 `run -d` at once), removed, and while an image is loaded or pulled. After
// each restart every conmon shim of this daemon belongs to a listed running container and every
// listed image can be inspected; at the end `rm -f` of everything leaves no shim, mount,
// cgroup or runtime state, and every listed image runs.
// BERTH_CRASH_ROUNDS changes the number of rounds (default 12, about a minute).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, mountsUnder, sleep, TestDaemon, freePort } from './harness.js';

const daemon = new TestDaemon();
const ROUNDS = Number(process.env.BERTH_CRASH_ROUNDS ?? 12);
let registry: ChildProcess | undefined;
let registryDir = '';
let port = 0;
let archive = '';
const remote = () => `127.0.0.1:${port}/crash/img:latest`;


before(async () => {
  await daemon.start();
  await daemon.importBusybox();
  // An image of its own (busybox's files plus 2 MiB of noise), saved for load rounds and pushed for pull rounds.
  const rootfs = join(daemon.root, 'crashimg-rootfs.tar');
  copyFileSync(daemon.busyboxRootfs(), rootfs);
  writeFileSync(join(daemon.root, 'noise'), randomBytes(2 << 20));
  execFileSync('tar', ['-rf', rootfs, '-C', daemon.root, 'noise']);
  await daemon.berthOk(['import', '-c', 'CMD ["sh"]', rootfs, 'crashimg:latest']);
  archive = join(daemon.root, 'crashimg.tar');
  await daemon.berthOk(['save', '-o', archive, 'crashimg:latest']);
  port = await freePort();
  registryDir = mkdtempSync('/tmp/berth-registry-');
  writeFileSync(join(registryDir, 'config.yml'), [
    'version: 0.1', 'log:', '  level: error',
    'storage:', '  filesystem:', `    rootdirectory: ${join(registryDir, 'data')}`,
    'http:', `  addr: 127.0.0.1:${port}`, '',
  ].join('\n'));
  registry = spawn('/usr/bin/docker-registry', ['serve', join(registryDir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false)); i++) await sleep(50);
  await daemon.berthOk(['tag', 'crashimg:latest', remote()]);
  await daemon.berthOk(['push', remote()]);
  await daemon.berthOk(['rmi', 'crashimg:latest', remote()]);
});

after(async () => {
  registry?.kill('SIGKILL');
  if (registryDir) rmSync(registryDir, { recursive: true, force: true });
  await daemon.cleanup();
});

/** The container IDs of the conmon processes whose command line names this daemon's exec root. */
function shimContainers(): Array<{ pid: number; id: string }> {
  const shims: Array<{ pid: number; id: string }> = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!/(^|\/)conmon$/.test(args[0] ?? '') || !args.some((arg) => arg.startsWith(daemon.execRoot + '/'))) continue;
    shims.push({ pid: Number(pid), id: args[args.indexOf('-c') + 1] ?? '' });
  }
  return shims;
}

async function containers(): Promise<Array<{ Id: string; State: string }>> {
  const list = await daemon.api('GET', '/containers/json?all=1');
  assert.equal(list.status, 200, list.body);
  return list.json();
}

async function createOne(): Promise<string> {
  const created = await daemon.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '300'] });
  if (created.status !== 201) throw new Error(created.body);
  return (created.json() as { Id: string }).Id;
}

async function startOne(id: string): Promise<void> {
  const started = await daemon.api('POST', `/containers/${id}/start`);
  if (started.status !== 204) throw new Error(started.body);
}

/** What each round does while berthd is killed under it; errors from the dying daemon are expected. */
const OPERATIONS: Record<string, () => Promise<unknown>> = {
  'run -d x6': () => Promise.all(Array.from({ length: 6 }, async () => startOne(await createOne()))),
  'create x6': () => Promise.all(Array.from({ length: 6 }, createOne)),
  start: async () => {
    const ids = (await containers()).filter((container) => container.State === 'created').map((container) => container.Id);
    return Promise.all(ids.map(startOne));
  },
  'rm -f': async () => Promise.all((await containers()).map((container) => daemon.api('DELETE', `/containers/${container.Id}?force=1`))),
  load: () => daemon.berth(['load', '-i', archive]),
  pull: () => daemon.berth(['pull', remote()]),
};

/** Randomised, but the operations' own durations differ: a delay of up to about their length. */
const MAX_DELAY_MS: Record<string, number> = { 'run -d x6': 1500, 'create x6': 300, start: 1200, 'rm -f': 1200, load: 600, pull: 800 };

/** What berthd logs when it finds a start it was killed in, or leftovers of a run no record claims. */
const RECOVERY_LINES = { adoptedStarts: 'berthd: adopted container', rolledBackStarts: 'berthd: rolling back the start', cleanedUp: 'berthd: removed what an unfinished run' };

async function assertConsistent(round: string): Promise<void> {
  const listed = new Map((await containers()).map((container) => [container.Id, container.State]));
  const shims = shimContainers();
  for (const shim of shims) {
    assert.ok(listed.has(shim.id), `${round}: conmon ${shim.pid} of container ${shim.id} that no API lists`);
    assert.match(listed.get(shim.id)!, /running|paused|restarting/, `${round}: conmon ${shim.pid} of a container that is ${listed.get(shim.id)}`);
  }
  // The converse: a running container kept its shim (nobody else would record its exit).
  for (const [id, state] of listed) {
    if (state === 'running') {
      assert.ok(shims.some((shim) => shim.id === id), `${round}: running container ${id} has no conmon; berthd said:\n${daemon.log.split('\n').filter((line) => line.includes(id.slice(0, 12))).join('\n')}`);
    }
  }
  const images = await daemon.api('GET', '/images/json');
  assert.equal(images.status, 200);
  for (const image of images.json() as Array<{ Id: string; RepoTags: string[] | null }>) {
    const inspected = await daemon.api('GET', `/images/${image.Id}/json`);
    assert.equal(inspected.status, 200, `${round}: image ${image.Id} is listed and can be inspected`);
  }
}

test('kill -9 of berthd at random moments during create, start, run -d, rm -f, load and pull leaves nothing unclaimed', { timeout: 180_000 }, async () => {
  const names = Object.keys(OPERATIONS);
  const log: string[] = [];
  const recovered = { adoptedStarts: 0, rolledBackStarts: 0, cleanedUp: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const name = names[round % names.length]!;
    if (name === 'load' || name === 'pull') {
      // Something to do for the load or pull: the image must not be here already.
      await daemon.api('DELETE', `/images/${encodeURIComponent(name === 'load' ? 'crashimg:latest' : remote())}?force=1`);
    }
    const delay = Math.floor(Math.random() * MAX_DELAY_MS[name]!);
    const operation = OPERATIONS[name]!().catch(() => undefined);
    await sleep(delay);
    await daemon.kill9();
    await operation;
    log.push(`${name} killed after ${delay}ms`);
    await daemon.start();
    await assertConsistent(`round ${round} (${log.join('; ')})`);
    for (const kind of Object.keys(recovered) as Array<keyof typeof recovered>) recovered[kind] += daemon.log.split(RECOVERY_LINES[kind]).length - 1;
  }
  process.stderr.write(`crash: ${ROUNDS} rounds; at restarts ${JSON.stringify(recovered)}\n`);

  // Whatever the rounds left: the images listed run, and rm -f of every container leaves nothing.
  const images = (await daemon.api('GET', '/images/json')).json() as Array<{ Id: string }>;
  for (const image of images) {
    const result = await daemon.berth(['run', '--rm', image.Id, 'true']);
    assert.equal(result.code, 0, `image ${image.Id} runs: ${result.stderr}`);
  }
  await Promise.all((await containers()).map((container) => daemon.api('DELETE', `/containers/${container.Id}?force=1`)));
  assert.deepEqual(await containers(), []);
  assert.deepEqual(shimContainers(), [], 'no conmon of this daemon');
  assert.deepEqual(mountsUnder(daemon.dataRoot), [], 'no mount under the data root');
  const cgroups = cgroupDirs(daemon.cgroupParent).flatMap((dir) => readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name)));
  assert.deepEqual(cgroups, [], 'no cgroup under the cgroup parent');
  for (const runtime of ['runc', 'crun']) {
    const runtimeRoot = join(daemon.execRoot, 'runtime', runtime);
    assert.deepEqual(existsSync(runtimeRoot) ? readdirSync(runtimeRoot) : [], [], `no ${runtime} state`);
  }
  assert.deepEqual(readdirSync(join(daemon.execRoot, 'shims')), [], 'no shim directory');
  assert.deepEqual(readdirSync(join(daemon.dataRoot, 'containers')), [], 'no container directory');
});
