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

test('a second daemon on its own roots, serving TCP, runs side by side with its own images', async (t) => {
  const { TestDaemon, runCommand, BERTH } = await import('./harness.js');
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const second = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`]);
  t.after(() => second.cleanup());
  await second.start();
  const overTcp = await runCommand(process.execPath, [BERTH, '-H', `tcp://127.0.0.1:${port}`, 'images', '-q']);
  assert.equal(overTcp.code, 0, overTcp.stderr);
  assert.equal(overTcp.stdout, '', 'the second daemon has no images of the first');
  const viaDocker = await runCommand('docker', ['version', '--format', '{{.Server.APIVersion}}'], { env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_CONFIG: second.dockerConfig } });
  assert.equal(viaDocker.stdout.trim(), '1.43', viaDocker.stderr);
  assert.notEqual((await daemon.berth(['images', '-q'])).stdout.trim(), '', 'the first daemon still has busybox');
});
