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

test('daemon.json: a Docker setting berthd does not apply is refused, not ignored; wrong types are errors', () => {
  assert.throws(() => mergeConfig({}, '{"log-driver": "syslog", "bip": "10.0.0.1/24", "debug": true}'),
    (error: unknown) => error instanceof ConfigError && error.message === 'the following directives are not supported by berthd: log-driver, bip');
  assert.throws(() => mergeConfig({}, '{"debug": "yes"}'), /invalid value for debug/);
  assert.throws(() => mergeConfig({}, '{"hosts": "unix:///x"}'), /invalid value for hosts/);
  assert.throws(() => mergeConfig({}, '{"runtimes": {"x": {"path": 1}}}'), /invalid value for runtimes/);
  assert.throws(() => mergeConfig({}, '[]'), /must be a JSON object/);
  assert.equal(mergeConfig({}, '{"debug": true, "registry-mirrors": ["https://m"]}').debug, true);
});
