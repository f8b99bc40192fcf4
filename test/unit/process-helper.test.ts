// berthd's process helper (berth-runtime-launcher --serve, compiled by the build): programs run
// with their status, output and errors; a sync pipe relayed line by line; mount and umount as
// system calls. Runs the real helper (the build compiles it next to dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiledLauncher, ProcessHelper } from '../../src/runtime/process-helper.js';
import { CommandError } from '../../src/util/exec.js';
import { isMounted } from '../../src/layers/overlay.js';

const launcher = compiledLauncher();
const skip = launcher ? false : 'the launcher is not compiled (no C compiler at build time)';

test('run: stdout, stderr, exit status, cwd and environment as given; a failure is a CommandError', { skip }, async () => {
  const helper = new ProcessHelper(launcher!);
  const out = await helper.run('/bin/sh', ['-c', 'printf "%s|%s" "$PWD" "$ONLY"; echo ignored >&2'], { cwd: '/tmp', env: { ONLY: 'this' } });
  assert.equal(out, '/tmp|this');
  await assert.rejects(helper.run('/bin/sh', ['-c', 'echo why >&2; exit 3']), (error: unknown) => {
    assert.ok(error instanceof CommandError);
    assert.equal(error.code, 3);
    assert.equal(error.stderr, 'why\n');
    return true;
  });
  await assert.rejects(helper.run('/nonexistent/program', []), /exec \/nonexistent\/program: No such file or directory/);
  // Large outputs and many requests at once: each reply whole, to its own request.
  const many = await Promise.all(Array.from({ length: 20 }, (_, index) => helper.run('/bin/sh', ['-c', `head -c ${100_000 + index} /dev/zero | tr '\\0' x; printf ${index}`])));
  many.forEach((output, index) => assert.equal(output, `${'x'.repeat(100_000 + index)}${index}`));
});

test('a sync pipe on fd 3: lines as they come, until the first (sync1) or its end', { skip }, async () => {
  const helper = new ProcessHelper(launcher!);
  const lines: string[] = [];
  const first = await helper.spawnWithSyncPipe('/bin/sh', ['-c', 'echo \'{"data": 7}\' >&3; echo oops >&2; sleep 1; echo late >&3'], { firstLineOnly: true }, (line) => lines.push(line));
  assert.deepEqual(lines, ['{"data": 7}\n'], 'settles at the first line without waiting for the program');
  assert.equal(first.status, -1);
  const all: string[] = [];
  const started = Date.now();
  const result = await helper.spawnWithSyncPipe('/bin/sh', ['-c', 'echo one >&3; echo err >&2; sleep 0.2; printf two >&3'], { firstLineOnly: false }, (line) => all.push(line));
  assert.deepEqual(all, ['one\n', 'two'], 'a last line without its newline is given too');
  assert.ok(Date.now() - started >= 150);
  assert.equal(result.stderr.toString(), 'err\n');
});

test('mount and umount as system calls: relative lowerdirs from cwd, a mount point unmounted, nothing mounted is fine', { skip }, async () => {
  const helper = new ProcessHelper(launcher!);
  const root = await mkdtemp(join(tmpdir(), 'berth-helper-'));
  const target = join(root, 'merged');
  try {
    await Promise.all(['lower', 'upper', 'work', 'merged'].map((dir) => mkdir(join(root, dir))));
    await writeFile(join(root, 'lower', 'file'), 'from the lower layer');
    await helper.mount(root, 'overlay', target, 'overlay', `lowerdir=lower,upperdir=${root}/upper,workdir=${root}/work`);
    assert.equal(await isMounted(target), true);
    assert.equal(await readFile(join(target, 'file'), 'utf8'), 'from the lower layer');
    await helper.unmount(target);
    assert.equal(await isMounted(target), false);
    await helper.unmount(target);
    await helper.unmount(join(root, 'missing'));
    await assert.rejects(helper.mount(root, 'overlay', target, 'overlay', 'lowerdir=nosuch,upperdir=/nosuch,workdir=/nosuch'), /mount overlay on .*merged: mount: /);
  } finally {
    await helper.unmount(target).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
});
