import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShimArgs, resolveInterruptedStart } from '../../src/containers/reconcile.js';
import { LayerLeases } from '../../src/layers/leases.js';

const ID = 'a'.repeat(64);
const EXEC = 'b'.repeat(64);

test('a conmon command line is this daemon\'s when its exit or persist directory lies in the exec root', () => {
  const args = ['/usr/bin/conmon', '--api-version', '1', '-c', ID, '-u', ID, '-n', 'x', '-p', `/run/b/shims/${ID}/pidfile`,
    '--exit-dir', '/run/b/exits', '--persist-dir', `/run/b/shims/${ID}`];
  assert.deepEqual(parseShimArgs(args, '/run/b'), { containerId: ID, uuid: ID });
  assert.deepEqual(parseShimArgs(args, '/run/b/'), { containerId: ID, uuid: ID });
  assert.equal(parseShimArgs(args, '/run/bb'), undefined, 'another daemon\'s exec root');
  assert.equal(parseShimArgs(['/usr/bin/sleep', '--exit-dir', '/run/b/exits', '-c', ID], '/run/b'), undefined, 'not conmon');
  const exec = ['conmon', '-c', ID, '-u', EXEC, '--exit-dir', `/run/b/shims/${ID}/execs/${EXEC}/exits`];
  assert.deepEqual(parseShimArgs(exec, '/run/b'), { containerId: ID, uuid: EXEC }, 'an exec session belongs to its container');
});

test('a start the daemon was killed in is adopted, started or rolled back', () => {
  assert.equal(resolveInterruptedStart({ status: 'running', pid: 5 }, true, false), 'adopt');
  assert.equal(resolveInterruptedStart({ status: 'paused', pid: 5 }, true, false), 'adopt');
  // Only created: its conmon dies of SIGPIPE on the dead daemon's sync pipe, so it is not started.
  assert.equal(resolveInterruptedStart({ status: 'created', pid: 5 }, true, false), 'roll back');
  assert.equal(resolveInterruptedStart({ status: 'running', pid: 5 }, false, false), 'roll back', 'no shim: nobody would record its exit');
  assert.equal(resolveInterruptedStart({ status: 'stopped', pid: 0 }, true, false), 'roll back');
  assert.equal(resolveInterruptedStart({ status: 'creating', pid: 0 }, true, false), 'roll back');
  assert.equal(resolveInterruptedStart(undefined, true, false), 'roll back');
  assert.equal(resolveInterruptedStart({ status: 'running', pid: 5 }, true, true), 'roll back', 'an exit file says it is over');
});

test('layer leases count holders; release is idempotent; added layers are held too', () => {
  const leases = new LayerLeases();
  const first = leases.acquire(['sha256:1', 'sha256:2']);
  const second = leases.acquire(['sha256:2']);
  second.add('sha256:3');
  assert.ok(leases.isLeased('sha256:1') && leases.isLeased('sha256:2') && leases.isLeased('sha256:3'));
  first.release();
  first.release();
  assert.equal(leases.isLeased('sha256:1'), false);
  assert.equal(leases.isLeased('sha256:2'), true, 'still held by the second lease');
  second.release();
  second.add('sha256:4');
  assert.equal(leases.isLeased('sha256:2'), false);
  assert.equal(leases.isLeased('sha256:4'), false, 'a released lease takes no more layers');
});
