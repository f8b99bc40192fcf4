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

test('a container outlives rmi -f of its image; removing it frees the image\'s layers', async () => {
  const { execFileSync } = await import('node:child_process');
  const { copyFileSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  // busybox plus one file: a layer of its own, shared with no other image.
  const tarball = join(daemon.root, 'marked.tar');
  copyFileSync(daemon.busyboxRootfs(), tarball);
  writeFileSync(join(daemon.root, 'marker'), 'mine\n');
  execFileSync('tar', ['-rf', tarball, '-C', daemon.root, 'marker']);
  const imported = await daemon.berth(['import', tarball, 'marked:1']);
  assert.equal(imported.code, 0, imported.stderr);
  const layersBefore = readdirSync(join(daemon.dataRoot, 'layers')).filter((name) => /^[0-9a-f]{64}$/.test(name));

  const created = await daemon.berth(['run', '--name', 'orphan', 'marked:1', 'cat', '/marker']);
  assert.equal(created.stdout, 'mine\n', created.stderr);
  const removedImage = await daemon.berth(['rmi', '-f', 'marked:1']);
  assert.equal(removedImage.code, 0, removedImage.stderr);
  assert.match(removedImage.stdout, /Untagged: marked:1/);

  const again = await daemon.berth(['start', '-a', 'orphan']);
  assert.equal(again.stdout, 'mine\n', again.stderr);
  assert.equal((await daemon.berth(['rm', 'orphan'])).code, 0);
  const layersAfter = readdirSync(join(daemon.dataRoot, 'layers')).filter((name) => /^[0-9a-f]{64}$/.test(name));
  assert.equal(layersAfter.length, layersBefore.length - 1, 'the orphaned layer is gone, busybox\'s stays');
});

test('a second berthd on the same pidfile refuses to start and touches nothing', async () => {
  const { runCommand, BERTHD } = await import('./harness.js');
  const { join } = await import('node:path');
  const result = await runCommand(process.execPath, [BERTHD, '--data-root', daemon.dataRoot, '--exec-root', daemon.execRoot,
    '-H', `unix://${join(daemon.root, 'other.sock')}`, '--pidfile', join(daemon.root, 'berthd.pid')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /pid file found, ensure berthd is not running/);
  assert.equal((await daemon.api('GET', '/_ping')).status, 200, 'the first daemon still serves');
});

test('run -i pipes stdin to the container, with berth and with the docker CLI, until EOF', async () => {
  const piped = await daemon.berth(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'hi\n', timeoutMs: 20_000 });
  assert.deepEqual([piped.code, piped.stdout], [0, 'hi\n'], piped.stderr);
  const counted = await daemon.docker(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'wc -c; echo done'], { input: 'x'.repeat(100_000), timeoutMs: 20_000 });
  assert.deepEqual([counted.code, counted.stdout], [0, '100000\ndone\n'], counted.stderr);
  const withoutI = await daemon.berth(['run', '--rm', 'busybox', 'sh', '-c', 'cat; echo end'], { input: 'dropped\n', timeoutMs: 20_000 });
  assert.equal(withoutI.stdout, 'end\n', 'without -i the container gets no stdin');
});

test('inspect -s and ps -s report the writable layer and the image it sits on', async () => {
  await daemon.berthOk(['run', '--name', 'sized', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /big']);
  const [rw, rootfs] = (await daemon.berthOk(['inspect', '-s', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'sized'])).trim().split(' ').map(Number);
  const imageSize = Number((await daemon.berthOk(['image', 'inspect', '-f', '{{.Size}}', 'busybox'])).trim());
  assert.ok(rw >= 100_000 && rw < 200_000, `SizeRw ${rw}`);
  assert.equal(rootfs, rw + imageSize);
  const listed = (await daemon.api('GET', '/containers/json?all=1&size=1')).json() as Array<{ Names: string[]; SizeRw: number }>;
  assert.equal(listed.find((container) => container.Names[0] === '/sized')?.SizeRw, rw);
  await daemon.berthOk(['rm', 'sized']);
});
