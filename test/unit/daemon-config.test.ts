import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, mergeConfig, parseDaemonArgs } from '../../src/daemon/config.js';

test('flags: repeated -H, --flag=value and bools', () => {
  const { flags } = parseDaemonArgs(['-H', 'unix:///a.sock', '--host=tcp://127.0.0.1:2375', '--data-root=/d', '--debug', '--exec-root', '/e']);
  assert.deepEqual(flags.hosts, ['unix:///a.sock', 'tcp://127.0.0.1:2375']);
  assert.equal(flags.dataRoot, '/d');
  assert.equal(flags.execRoot, '/e');
  assert.equal(flags.debug, true);
});

test('flags: unknown flag and missing value are errors', () => {
  assert.throws(() => parseDaemonArgs(['--nope']), /unknown flag: --nope/);
  assert.throws(() => parseDaemonArgs(['--data-root']), /flag needs an argument: --data-root/);
});

test('daemon.json fills what flags leave unset; defaults fill the rest', () => {
  const config = mergeConfig({ dataRoot: '/flag' }, JSON.stringify({ 'exec-root': '/json', debug: true, 'default-runtime': 'crun' }));
  assert.equal(config.dataRoot, '/flag');
  assert.equal(config.execRoot, '/json');
  assert.equal(config.debug, true);
  assert.equal(config.defaultRuntime, 'crun');
  assert.deepEqual(config.hosts, DEFAULT_CONFIG.hosts);
});

test('a setting both as a flag and in daemon.json is refused, as Docker does', () => {
  assert.throws(() => mergeConfig({ dataRoot: '/a' }, '{"data-root": "/b"}'), (error: unknown) =>
    error instanceof ConfigError && /specified both as a flag and in the configuration file: data-root/.test(error.message));
});

test('malformed daemon.json and an unknown default runtime are errors', () => {
  assert.throws(() => mergeConfig({}, '{nope'), /unable to configure the daemon with file/);
  assert.throws(() => mergeConfig({ defaultRuntime: 'kata' }, undefined), /default runtime kata is not configured/);
  const custom = mergeConfig({ defaultRuntime: 'mine' }, '{"runtimes": {"mine": {"path": "/usr/local/bin/mine"}}}');
  assert.equal(custom.runtimes.mine.path, '/usr/local/bin/mine');
  assert.equal(custom.runtimes.runc.path, '/usr/sbin/runc');
});

test('SIGHUP reload: the reloadable keys the file sets change, the others stay, other keys need a restart', async () => {
  const { reloadConfig } = await import('../../src/daemon/config.js');
  const current = mergeConfig({}, JSON.stringify({ labels: ['a=1'], 'registry-mirrors': ['https://m1.example'], 'data-root': '/d' }));
  const next = reloadConfig(current, {}, JSON.stringify({
    labels: ['b=2'], debug: true, 'max-concurrent-downloads': 5, 'insecure-registries': ['10.0.0.0/8'], 'data-root': '/elsewhere',
  }));
  assert.deepEqual(next.labels, ['b=2']);
  assert.equal(next.debug, true);
  assert.equal(next.maxConcurrentDownloads, 5);
  assert.deepEqual(next.insecureRegistries, ['10.0.0.0/8']);
  assert.deepEqual(next.registryMirrors, ['https://m1.example'], 'a key the file no longer sets keeps its value');
  assert.equal(next.dataRoot, '/d', 'data-root is not reloadable');
});

test('SIGHUP reload: an invalid file throws (the daemon keeps its configuration)', async () => {
  const { reloadConfig } = await import('../../src/daemon/config.js');
  const current = mergeConfig({}, undefined);
  assert.throws(() => reloadConfig(current, {}, '{"labels": ['), ConfigError);
  assert.throws(() => reloadConfig(current, {}, '{"labels": ["novalue"]}'), /bad attribute format: novalue/);
  assert.throws(() => reloadConfig(current, {}, '{"max-concurrent-downloads": -1}'), /invalid max concurrent downloads: -1/);
  assert.throws(() => reloadConfig(current, { debug: true }, '{"debug": false}'), /both as a flag and in the configuration file: debug/);
  assert.deepEqual(parseDaemonArgs(['--label', 'x=y', '--max-concurrent-downloads', '7']).flags, { labels: ['x=y'], maxConcurrentDownloads: 7 });
  assert.equal(DEFAULT_CONFIG.maxConcurrentDownloads, 3);
});

test('daemon.json: a Docker setting berthd does not apply is refused, not ignored; wrong types are errors', () => {
  assert.throws(() => mergeConfig({}, '{"log-driver": "syslog", "userland-proxy": false, "debug": true}'),
    (error: unknown) => error instanceof ConfigError && error.message === 'the following directives are not supported by berthd: log-driver, userland-proxy');
  assert.throws(() => mergeConfig({}, '{"debug": "yes"}'), /invalid value for debug/);
  assert.throws(() => mergeConfig({}, '{"hosts": "unix:///x"}'), /invalid value for hosts/);
  assert.throws(() => mergeConfig({}, '{"runtimes": {"x": {"path": 1}}}'), /invalid value for runtimes/);
  assert.throws(() => mergeConfig({}, '[]'), /must be a JSON object/);
  assert.equal(mergeConfig({}, '{"debug": true, "registry-mirrors": ["https://m"]}').debug, true);
});
