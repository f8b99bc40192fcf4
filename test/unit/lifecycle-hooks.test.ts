// The lifecycle hook registry: prepare in registration (or declared) order, release and remove in reverse,
// and a start that fails in hook k releases hooks k-1..0 only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerPaths } from '../../src/containers/rootfs-hook.js';
import { emptySpecContributions, LifecycleHooks, type LifecycleHook, type PrepareContext } from '../../src/containers/hooks.js';
import { initialState, type ContainerRecord } from '../../src/containers/record.js';

const record: ContainerRecord = {
  id: 'c'.repeat(64), name: '/hooked', created: new Date(0).toISOString(), path: 'true', args: [], config: {}, hostConfig: {},
  image: 'sha256:' + 'a'.repeat(64), topChainId: null, state: initialState(), restartCount: 0, runtime: 'runc',
};

function context(): PrepareContext {
  return { record, paths: containerPaths('/containers/c'), spec: emptySpecContributions() };
}

/** A hook that writes each phase it runs into `calls`; `failIn` makes that phase throw. */
function recorder(name: string, calls: string[], failIn?: 'prepare' | 'release' | 'remove'): LifecycleHook {
  const step = (phase: 'prepare' | 'release' | 'remove', detail = '') => async () => {
    calls.push(`${phase} ${name}${detail}`);
    if (failIn === phase) throw new Error(`${name} failed to ${phase}`);
  };
  return {
    name,
    prepare: step('prepare'),
    release: async (released) => step('release', ` (${released.reason})`)(),
    remove: step('remove'),
  };
}

test('prepare runs in registration order; release and remove run in reverse', async () => {
  const calls: string[] = [];
  const hooks = new LifecycleHooks().register(recorder('a', calls)).register(recorder('b', calls)).register(recorder('c', calls));
  assert.deepEqual(hooks.names, ['a', 'b', 'c']);
  await hooks.prepare(context());
  await hooks.release({ ...context(), reason: 'exited' });
  await hooks.remove(context());
  assert.deepEqual(calls, [
    'prepare a', 'prepare b', 'prepare c',
    'release c (exited)', 'release b (exited)', 'release a (exited)',
    'remove c', 'remove b', 'remove a',
  ]);
});

test('a failure in hook k releases hooks k-1..0, not k or later, and the start fails with its error', async () => {
  const calls: string[] = [];
  const hooks = new LifecycleHooks()
    .register(recorder('a', calls)).register(recorder('b', calls)).register(recorder('c', calls, 'prepare')).register(recorder('d', calls));
  await assert.rejects(hooks.prepare(context()), /c failed to prepare/);
  assert.deepEqual(calls, ['prepare a', 'prepare b', 'prepare c', 'release b (start-failed)', 'release a (start-failed)']);
});

test('a failure in the first hook releases nothing', async () => {
  const calls: string[] = [];
  const hooks = new LifecycleHooks().register(recorder('a', calls, 'prepare')).register(recorder('b', calls));
  await assert.rejects(hooks.prepare(context()), /a failed to prepare/);
  assert.deepEqual(calls, ['prepare a']);
});

test('a hook failing to release or remove is logged and the others still run', async () => {
  const calls: string[] = [];
  const logged: string[] = [];
  const hooks = new LifecycleHooks((message) => logged.push(message))
    .register(recorder('a', calls)).register(recorder('b', calls, 'release')).register(recorder('c', calls, 'remove'));
  await hooks.release({ ...context(), reason: 'start-failed' });
  await hooks.remove(context());
  assert.deepEqual(calls, [
    'release c (start-failed)', 'release b (start-failed)', 'release a (start-failed)', 'remove c', 'remove b', 'remove a',
  ]);
  assert.equal(logged.length, 2);
  assert.match(logged[0]!, /^b: releasing container c{64}: Error: b failed to release$/);
  assert.match(logged[1]!, /^c: removing container c{64}: Error: c failed to remove$/);
});

test('hooks without a phase are skipped, and a name is registered once', async () => {
  const calls: string[] = [];
  const hooks = new LifecycleHooks().register({ name: 'only-prepare', prepare: async ({ spec }) => { spec.mounts.push({ type: 'tmpfs', destination: '/run/x' }); } })
    .register(recorder('b', calls));
  const prepared = context();
  await hooks.prepare(prepared);
  await hooks.release({ ...prepared, reason: 'exited' });
  assert.deepEqual(prepared.spec.mounts, [{ type: 'tmpfs', destination: '/run/x' }]);
  assert.deepEqual(calls, ['prepare b', 'release b (exited)']);
  assert.throws(() => hooks.register(recorder('b', calls)), /registered twice/);
});

/** A hook whose prepare waits for `gate` and pushes a mount; it records when it starts and ends. */
function gated(name: string, calls: string[], gate: Promise<void>, fail = false): LifecycleHook {
  return {
    name,
    prepare: async ({ spec }) => {
      calls.push(`start ${name}`);
      await gate;
      spec.mounts.push({ type: 'tmpfs', destination: `/${name}` });
      calls.push(`end ${name}`);
      if (fail) throw new Error(`${name} failed to prepare`);
    },
    release: async () => { calls.push(`release ${name}`); },
  };
}

test('hooks with no order between them prepare at once; mounts join in registration order whatever finishes first', async () => {
  const calls: string[] = [];
  let openSlow!: () => void;
  const slow = new Promise<void>((resolve) => { openSlow = resolve; });
  const hooks = new LifecycleHooks()
    .register(gated('slow', calls, slow), { after: [] })
    .register(gated('fast', calls, Promise.resolve()), { after: [] })
    .register(gated('needs-slow', calls, Promise.resolve()), { after: ['slow'] });
  const prepared = context();
  const preparing = hooks.prepare(prepared);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['start slow', 'start fast', 'end fast'], 'fast ran while slow was still preparing; needs-slow waits');
  openSlow();
  await preparing;
  assert.deepEqual(calls.slice(3), ['end slow', 'start needs-slow', 'end needs-slow']);
  assert.deepEqual(prepared.spec.mounts.map((mount) => mount.destination), ['/slow', '/fast', '/needs-slow']);
  calls.length = 0;
  await hooks.release({ ...prepared, reason: 'exited' });
  assert.ok(calls.indexOf('release needs-slow') < calls.indexOf('release slow'), `a hook is released after those that come after it: ${calls.join(', ')}`);
  assert.equal(calls.length, 3);
});

test('single-valued contributions are shared: a hook sees what the hooks it comes after set', async () => {
  let seen: string | undefined;
  const hooks = new LifecycleHooks()
    .register({ name: 'net', prepare: async ({ spec }) => { spec.networkNamespacePath = '/run/netns/x'; } }, { after: [] })
    .register({ name: 'reader', prepare: async ({ spec }) => { seen = spec.networkNamespacePath; } }, { after: ['net'] });
  const prepared = context();
  await hooks.prepare(prepared);
  assert.equal(seen, '/run/netns/x');
  assert.equal(prepared.spec.networkNamespacePath, '/run/netns/x');
});

test('a failure while a sibling prepares: the sibling finishes and is released, dependents never run, the failure is thrown', async () => {
  const calls: string[] = [];
  const hooks = new LifecycleHooks()
    .register(gated('ok', calls, Promise.resolve()), { after: [] })
    .register(gated('broken', calls, Promise.resolve(), true), { after: [] })
    .register(gated('after-broken', calls, Promise.resolve()), { after: ['broken'] });
  await assert.rejects(hooks.prepare(context()), /broken failed to prepare/);
  assert.ok(calls.includes('release ok'));
  assert.ok(!calls.includes('release broken') && !calls.includes('start after-broken'), calls.join(', '));
});

test('a hook can only come after hooks registered before it', () => {
  assert.throws(() => new LifecycleHooks().register({ name: 'a' }, { after: ['b'] }), /comes after b, which is not registered before it/);
});
