// The lifecycle hook registry: prepare in registration order, release and remove in reverse,
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
