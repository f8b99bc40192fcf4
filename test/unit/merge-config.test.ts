// mergeImageConfig / commandLine: Docker's rules for image defaults at container create.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../src/errdefs/errors.js';
import type { ContainerConfig } from '../../src/wire/types.js';
import { assertHasCommand, commandLine, mergeImageConfig } from '../../src/containers/merge-config.js';

const IMAGE: ContainerConfig = {
  Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8'],
  Cmd: ['nginx', '-g', 'daemon off;'],
  Entrypoint: ['/docker-entrypoint.sh'],
  WorkingDir: '/srv',
  User: 'www-data',
  StopSignal: 'SIGQUIT',
  Labels: { maintainer: 'image', tier: 'image' },
  ExposedPorts: { '80/tcp': {} },
  Volumes: { '/var/cache': {} },
  Healthcheck: { Test: ['CMD', 'true'], Interval: 30e9, Retries: 3 },
};

test('image values fill what the create request leaves out', () => {
  const merged = mergeImageConfig(IMAGE, { Image: 'nginx', Hostname: 'web' });
  assert.deepEqual(merged.Cmd, ['nginx', '-g', 'daemon off;']);
  assert.deepEqual(merged.Entrypoint, ['/docker-entrypoint.sh']);
  assert.equal(merged.WorkingDir, '/srv');
  assert.equal(merged.User, 'www-data');
  assert.equal(merged.StopSignal, 'SIGQUIT');
  assert.equal(merged.Hostname, 'web');
  assert.equal(merged.Image, 'nginx');
  assert.deepEqual(merged.Env, ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8']);
  assert.deepEqual(merged.Healthcheck, IMAGE.Healthcheck);
});

test('user values win; inputs are not modified', () => {
  const create: ContainerConfig = { WorkingDir: '/app', User: '1000', StopSignal: 'SIGTERM', Labels: { tier: 'user' } };
  const merged = mergeImageConfig(IMAGE, create);
  assert.equal(merged.WorkingDir, '/app');
  assert.equal(merged.User, '1000');
  assert.equal(merged.StopSignal, 'SIGTERM');
  assert.deepEqual(merged.Labels, { maintainer: 'image', tier: 'user' });
  assert.deepEqual(create.Labels, { tier: 'user' });
  assert.deepEqual(IMAGE.Labels, { maintainer: 'image', tier: 'image' });
});

test('Env: user entries first, image entries with other keys after (Docker\'s order)', () => {
  const merged = mergeImageConfig(IMAGE, { Env: ['LANG=fr_FR.UTF-8', 'DEBUG=1'] });
  assert.deepEqual(merged.Env, ['LANG=fr_FR.UTF-8', 'DEBUG=1', 'PATH=/usr/bin:/bin']);
});

test('ExposedPorts and Volumes are unions', () => {
  const merged = mergeImageConfig(IMAGE, { ExposedPorts: { '443/tcp': {} }, Volumes: { '/data': {} } });
  assert.deepEqual(Object.keys(merged.ExposedPorts ?? {}).sort(), ['443/tcp', '80/tcp']);
  assert.deepEqual(Object.keys(merged.Volumes ?? {}).sort(), ['/data', '/var/cache']);
});

test('user Cmd replaces image Cmd but keeps the image Entrypoint', () => {
  const merged = mergeImageConfig(IMAGE, { Cmd: ['nginx', '-t'] });
  assert.deepEqual(merged.Entrypoint, ['/docker-entrypoint.sh']);
  assert.deepEqual(merged.Cmd, ['nginx', '-t']);
  assert.deepEqual(commandLine(merged), { path: '/docker-entrypoint.sh', args: ['nginx', '-t'] });
});

test('user Entrypoint drops the image Cmd unless a Cmd is given too', () => {
  const alone = mergeImageConfig(IMAGE, { Entrypoint: ['/bin/sh'] });
  assert.deepEqual(alone.Entrypoint, ['/bin/sh']);
  assert.ok(!alone.Cmd || alone.Cmd.length === 0);
  const both = mergeImageConfig(IMAGE, { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'echo hi'] });
  assert.deepEqual(commandLine(both), { path: '/bin/sh', args: ['-c', 'echo hi'] });
});

test('Entrypoint [""] resets it: no entrypoint, no image Cmd', () => {
  const withCmd = mergeImageConfig(IMAGE, { Entrypoint: [''], Cmd: ['ls', '-l'] });
  assert.equal(withCmd.Entrypoint, null);
  assert.deepEqual(commandLine(withCmd), { path: 'ls', args: ['-l'] });
  const without = mergeImageConfig(IMAGE, { Entrypoint: [''] });
  assert.throws(() => assertHasCommand(without), (err) => err instanceof EngineError && err.kind === 'invalid-parameter' && err.message === 'No command specified');
});

test('no command anywhere is Docker\'s 400 "No command specified"', () => {
  const merged = mergeImageConfig({ Env: ['A=1'] }, {});
  assert.throws(() => commandLine(merged), (err) => err instanceof EngineError && err.kind === 'invalid-parameter' && err.message === 'No command specified');
  assert.doesNotThrow(() => assertHasCommand(mergeImageConfig(undefined, { Cmd: ['true'] })));
});

test('Healthcheck fields default one by one from the image', () => {
  const merged = mergeImageConfig(IMAGE, { Healthcheck: { Interval: 5e9 } });
  assert.deepEqual(merged.Healthcheck, { Test: ['CMD', 'true'], Interval: 5e9, Retries: 3 });
});

test('without an image the create config is kept as is, with empty Labels', () => {
  const merged = mergeImageConfig(undefined, { Cmd: ['true'], Env: ['A=1'] });
  assert.deepEqual(merged, { Cmd: ['true'], Env: ['A=1'], Labels: {} });
});
