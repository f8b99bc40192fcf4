// The shortest path through the engine: import, run, output, exit code, nothing left behind.
import { test } from 'node:test';
import { readdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { cgroupDirs, mountsUnder, useDaemon } from './harness.js';

const daemon = useDaemon();

test('run --rm prints the output and exits with the container\'s code, leaving nothing behind', async () => {
  const result = await daemon.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(result.stdout, 'out\n', JSON.stringify(result) + daemon.log);
  assert.equal(result.stderr, 'err\n');
  assert.equal(result.code, 3);
  const list = await daemon.api('GET', '/containers/json?all=1');
  assert.deepEqual(list.json(), []);
  assert.deepEqual(mountsUnder(daemon.root), []);
  for (const dir of cgroupDirs(daemon.cgroupParent)) {
    assert.deepEqual(readdirSync(dir).filter((name) => /^[0-9a-f]{64}$/.test(name)), [], dir);
  }
});
