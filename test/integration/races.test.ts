// Load and races through the API, concurrently: 50 `run -d` at once all run; 50 `rm -f` at once
// leave no record, mount, cgroup or shim; 10 creates racing for one name give one container and
// nine conflicts; clients looping create/start/inspect/rm see every change of their own and
// leave nothing behind, and no request hangs.
// The loop's size is configurable: BERTH_RACE_CLIENTS (default 20) for BERTH_RACE_SECONDS
// (default 20); the issue's full run is BERTH_RACE_CLIENTS=100 BERTH_RACE_SECONDS=60.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, mountsUnder, useDaemon } from './harness.js';

const daemon = useDaemon();
const CLIENTS = Number(process.env.BERTH_RACE_CLIENTS ?? 20);
const SECONDS = Number(process.env.BERTH_RACE_SECONDS ?? 20);
const REQUEST_TIMEOUT_MS = 60_000;

/** An API call that fails the test instead of hanging (a deadlock shows as a timeout). */
async function api(method: string, path: string, body?: unknown) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${method} ${path} took longer than ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([daemon.api(method, path, body), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function create(body: Record<string, unknown>, name?: string) {
  return api('POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', ...body });
}

async function runDetached(cmd: string[]): Promise<string> {
  const created = await create({ Cmd: cmd });
  assert.equal(created.status, 201, created.body);
  const id = (created.json() as { Id: string }).Id;
  const started = await api('POST', `/containers/${id}/start`);
  assert.equal(started.status, 204, started.body);
  return id;
}

function shimCount(): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)conmon$/.test(args[0] ?? '') && args.some((arg) => arg.startsWith(daemon.execRoot + '/'))) count++;
    } catch { /* gone */ }
  }
  return count;
}

async function assertNothingLeft(): Promise<void> {
  const list = await api('GET', '/containers/json?all=1');
  assert.deepEqual(list.json(), []);
  assert.deepEqual(readdirSync(join(daemon.dataRoot, 'containers')), [], 'no container record or directory');
  assert.deepEqual(mountsUnder(daemon.dataRoot), [], 'no mount');
  const cgroups = cgroupDirs(daemon.cgroupParent).flatMap((dir) => readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name)));
  assert.deepEqual(cgroups, [], 'no cgroup');
  assert.equal(shimCount(), 0, 'no conmon');
  for (const runtime of ['runc', 'crun']) {
    const runtimeRoot = join(daemon.execRoot, 'runtime', runtime);
    assert.deepEqual(existsSync(runtimeRoot) ? readdirSync(runtimeRoot) : [], [], `no ${runtime} state`);
  }
}

test('50 parallel run -d all run; 50 parallel rm -f leave nothing', { timeout: 240_000 }, async () => {
  const ids = await Promise.all(Array.from({ length: 50 }, () => runDetached(['sleep', '60'])));
  assert.equal(new Set(ids).size, 50);
  const running = (await api('GET', '/containers/json')).json() as Array<{ Id: string; State: string }>;
  assert.deepEqual(running.map((container) => container.Id).sort(), [...ids].sort());
  assert.ok(running.every((container) => container.State === 'running'));
  assert.equal(shimCount(), 50, 'one conmon each');

  const removed = await Promise.all(ids.map((id) => api('DELETE', `/containers/${id}?force=1`)));
  assert.deepEqual(removed.map((response) => response.status), ids.map(() => 204));
  await assertNothingLeft();
});

test('10 creates racing for one name: one container, nine conflicts', async () => {
  const responses = await Promise.all(Array.from({ length: 10 }, () => create({ Cmd: ['true'] }, 'racer')));
  const created = responses.filter((response) => response.status === 201);
  const conflicts = responses.filter((response) => response.status === 409);
  assert.equal(created.length, 1, responses.map((response) => `${response.status} ${response.body}`).join('\n'));
  assert.equal(conflicts.length, 9);
  const id = (created[0]!.json() as { Id: string }).Id;
  for (const conflict of conflicts) {
    assert.equal((conflict.json() as { message: string }).message,
      `Conflict. The container name "/racer" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
  }
  const all = (await api('GET', '/containers/json?all=1')).json() as Array<{ Id: string; Names: string[] }>;
  assert.deepEqual(all.map((container) => [container.Id, container.Names]), [[id, ['/racer']]]);
  assert.equal((await api('DELETE', '/containers/racer')).status, 204);
});

test(`${CLIENTS} clients looping create/start/inspect/rm for ${SECONDS} s lose no update and leave nothing`, { timeout: (SECONDS + 180) * 1000 }, async () => {
  const deadline = Date.now() + SECONDS * 1000;
  let cycles = 0;
  const client = async (index: number) => {
    for (let round = 0; Date.now() < deadline; round++) {
      const name = `c${index}r${round}`;
      const created = await create({ Cmd: ['sleep', '60'], Labels: { client: String(index) } }, name);
      assert.equal(created.status, 201, created.body);
      const id = (created.json() as { Id: string }).Id;
      const started = await api('POST', `/containers/${name}/start`);
      assert.equal(started.status, 204, started.body);
      const inspected = await api('GET', `/containers/${id}/json`);
      assert.equal(inspected.status, 200);
      const state = inspected.json() as { Name: string; State: { Running: boolean; Pid: number }; Config: { Labels: Record<string, string> } };
      assert.equal(state.Name, `/${name}`);
      assert.equal(state.State.Running, true, `${name} runs after its start`);
      assert.ok(state.State.Pid > 0);
      assert.equal(state.Config.Labels.client, String(index));
      const removed = await api('DELETE', `/containers/${id}?force=1`);
      assert.equal(removed.status, 204, removed.body);
      assert.equal((await api('GET', `/containers/${id}/json`)).status, 404, `${name} is gone after its removal`);
      cycles++;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index)));
  assert.ok(cycles >= CLIENTS, `every client completed cycles (${cycles} in all)`);
  process.stderr.write(`races: ${CLIENTS} clients, ${cycles} create/start/inspect/rm cycles in ${SECONDS} s\n`);
  await assertNothingLeft();
  assert.equal((await api('GET', '/_ping')).status, 200);
});
