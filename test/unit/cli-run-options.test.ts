// Tests for the pure conversion of run/create flags into a create request and for port specs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, FlagError } from '../../src/cli/flags.js';
import {
  buildCreateRequest,
  CONTAINER_FLAGS,
  CreateOptionsError,
  parseRestartPolicy,
  parseUlimit,
  parseEnvFile,
  RUN_ONLY_FLAGS,
} from '../../src/cli/commands/run-options.js';
import { parsePortSpec, parsePublish } from '../../src/cli/commands/publish-options.js';

function plan(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) {
  const parsed = parseFlags(argv, [...CONTAINER_FLAGS, ...RUN_ONLY_FLAGS], { interspersed: false });
  return buildCreateRequest(parsed.flags, parsed.positional, {
    changed: parsed.changed,
    env,
    cwd: '/home/user',
    readFile: (path) => {
      const content = files[path];
      if (content === undefined) throw new Error(`open ${path}: no such file or directory`);
      return content;
    },
  });
}

test('port specs follow nat.ParsePortSpec', () => {
  assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', hostIp: '', hostPort: '' }]);
  assert.deepEqual(parsePortSpec('8080:80'), [{ port: '80/tcp', hostIp: '', hostPort: '8080' }]);
  assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/udp'), [{ port: '80/udp', hostIp: '127.0.0.1', hostPort: '8080' }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ port: '80/tcp', hostIp: '127.0.0.1', hostPort: '' }]);
  assert.deepEqual(parsePortSpec('[::1]:8080:80'), [{ port: '80/tcp', hostIp: '::1', hostPort: '8080' }]);
  assert.deepEqual(parsePortSpec('8000-8001:80-81'), [
    { port: '80/tcp', hostIp: '', hostPort: '8000' },
    { port: '81/tcp', hostIp: '', hostPort: '8001' },
  ]);
  assert.deepEqual(parsePortSpec('8000-8010:80'), [{ port: '80/tcp', hostIp: '', hostPort: '8000-8010' }]);
  assert.deepEqual(parsePortSpec('target=80,published=8080,protocol=udp'), [{ port: '80/udp', hostIp: '', hostPort: '8080' }]);
  assert.throws(() => parsePortSpec('abc'), { message: 'invalid containerPort: abc' });
  assert.throws(() => parsePortSpec('x:80'), { message: 'invalid hostPort: x' });
  assert.throws(() => parsePortSpec('1.2.3:80:80'), { message: 'invalid IP address: 1.2.3' });
  assert.throws(() => parsePortSpec('80/xyz'), { message: 'invalid proto: xyz' });
  assert.throws(() => parsePortSpec('8000-8001:80-82'), /invalid ranges specified/);
});

test('publish builds ExposedPorts and PortBindings, accumulating bindings per port', () => {
  const { exposed, bindings } = parsePublish(['8080:80', '127.0.0.1:9090:80', '53/udp']);
  assert.deepEqual(exposed, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(bindings, {
    '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '9090' }],
    '53/udp': [{ HostIp: '', HostPort: '' }],
  });
});

test('restart policies and ulimits', () => {
  assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.deepEqual(parseRestartPolicy('always'), { Name: 'always' });
  assert.equal(parseRestartPolicy(''), undefined);
  assert.throws(() => parseRestartPolicy('on-failure:x'), /maximum retry count must be an integer/);
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
  assert.deepEqual(parseUlimit('nproc=10'), { Name: 'nproc', Soft: 10, Hard: 10 });
  assert.throws(() => parseUlimit('bogus=1'), { message: 'invalid ulimit type: bogus' });
  assert.throws(() => parseUlimit('nofile=10:5'), /soft limit must be less than or equal to hard limit/);
});

test('a plain run: image, command, attach stdout/stderr, defaults', () => {
  const { request, name, autoRemove } = plan(['busybox', 'echo', 'hi']);
  assert.equal(name, undefined);
  assert.equal(autoRemove, false);
  assert.equal(request.Image, 'busybox');
  assert.deepEqual(request.Cmd, ['echo', 'hi']);
  assert.equal(request.AttachStdin, false);
  assert.equal(request.AttachStdout, true);
  assert.equal(request.AttachStderr, true);
  assert.equal(request.OpenStdin, false);
  assert.equal(request.Tty, false);
  assert.equal(request.Entrypoint, null);
  assert.equal(request.HostConfig.NetworkMode, 'default');
  assert.deepEqual(request.HostConfig.RestartPolicy, { Name: 'no' });
  assert.equal(request.HostConfig.Init, undefined);
  assert.equal(request.HostConfig.Memory, undefined);
  assert.equal(request.StopTimeout, undefined);
});

test('flags after the image belong to the command', () => {
  const { request } = plan(['--rm', 'busybox', 'ls', '-l', '--rm']);
  assert.deepEqual(request.Cmd, ['ls', '-l', '--rm']);
  assert.equal(request.HostConfig.AutoRemove, true);
});

test('many flags map onto Config and HostConfig', () => {
  const { request, name } = plan(
    [
      '-it', '--name', 'web', '-e', 'A=1', '-e', 'FROM_HOST', '-e', 'MISSING', '-w', '/srv', '-u', '1000:1000',
      '--entrypoint', '/bin/sh', '-h', 'box', '-l', 'x=y', '-l', 'flag', '-m', '512m', '--memory-swap', '-1',
      '--cpus', '1.5', '-c', '512', '--pids-limit', '100', '--runtime', 'crun', '--net', 'host',
      '--restart', 'on-failure:2', '--stop-signal', 'SIGINT', '--stop-timeout', '5', '--cap-add', 'NET_ADMIN',
      '--cap-drop', 'ALL', '--privileged', '--read-only', '--security-opt', 'no-new-privileges', '--init',
      '--shm-size', '64m', '--ulimit', 'nofile=100:200', '-p', '8080:80', '-P', '-v', '/data', '-v', './src:/src:ro',
      '--tmpfs', '/run:size=1m', '--add-host', 'db:10.0.0.2', '--dns', '1.1.1.1', 'alpine:3', 'sh',
    ],
    { FROM_HOST: 'hostvalue' },
  );
  assert.equal(name, 'web');
  assert.equal(request.Tty, true);
  assert.equal(request.OpenStdin, true);
  assert.equal(request.AttachStdin, true);
  assert.equal(request.StdinOnce, true);
  assert.deepEqual(request.Env, ['A=1', 'FROM_HOST=hostvalue', 'MISSING']);
  assert.equal(request.WorkingDir, '/srv');
  assert.equal(request.User, '1000:1000');
  assert.deepEqual(request.Entrypoint, ['/bin/sh']);
  assert.equal(request.Hostname, 'box');
  assert.deepEqual(request.Labels, { x: 'y', flag: '' });
  assert.equal(request.StopSignal, 'SIGINT');
  assert.equal(request.StopTimeout, 5);
  assert.deepEqual(request.ExposedPorts, { '80/tcp': {} });
  assert.deepEqual(request.Volumes, { '/data': {} });
  const host = request.HostConfig;
  assert.equal(host.Memory, 512 * 1024 * 1024);
  assert.equal(host.MemorySwap, -1);
  assert.equal(host.NanoCpus, 1_500_000_000);
  assert.equal(host.CpuShares, 512);
  assert.equal(host.PidsLimit, 100);
  assert.equal(host.Runtime, 'crun');
  assert.equal(host.NetworkMode, 'host');
  assert.deepEqual(host.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  assert.deepEqual(host.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(host.CapDrop, ['ALL']);
  assert.equal(host.Privileged, true);
  assert.equal(host.ReadonlyRootfs, true);
  assert.deepEqual(host.SecurityOpt, ['no-new-privileges']);
  assert.equal(host.Init, true);
  assert.equal(host.ShmSize, 64 * 1024 * 1024);
  assert.deepEqual(host.Ulimits, [{ Name: 'nofile', Soft: 100, Hard: 200 }]);
  assert.deepEqual(host.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  assert.equal(host.PublishAllPorts, true);
  assert.deepEqual(host.Binds, ['/home/user/src:/src:ro']);
  assert.deepEqual(host.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(host.ExtraHosts, ['db:10.0.0.2']);
  assert.deepEqual(host.Dns, ['1.1.1.1']);
  assert.equal(request.Image, 'alpine:3');
  assert.deepEqual(request.Cmd, ['sh']);
});

test('--entrypoint= resets the entrypoint; --init=false is sent as false', () => {
  const { request } = plan(['--entrypoint=', '--init=false', 'busybox']);
  assert.deepEqual(request.Entrypoint, ['']);
  assert.equal(request.HostConfig.Init, false);
});

test('-a selects streams; -a stdin without -i', () => {
  const { request } = plan(['-a', 'STDERR', 'busybox']);
  assert.equal(request.AttachStdout, false);
  assert.equal(request.AttachStderr, true);
  assert.equal(request.AttachStdin, false);
  assert.throws(() => plan(['-a', 'foo', 'busybox']), (err: Error) => {
    assert.ok(err instanceof FlagError);
    assert.equal(err.message, 'invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR');
    return true;
  });
});

test('bad values give docker wording', () => {
  assert.throws(() => plan(['-m', 'abc', 'busybox']), (err: Error) => {
    assert.ok(err instanceof FlagError);
    assert.equal(err.message, `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`);
    return true;
  });
  assert.throws(() => plan(['--restart', 'always', '--rm', 'busybox']), (err: Error) => {
    assert.ok(err instanceof CreateOptionsError);
    assert.equal(err.message, 'conflicting options: cannot specify both --restart and --rm');
    return true;
  });
  assert.throws(() => plan(['-p', 'abc', 'busybox']), { message: 'invalid containerPort: abc' });
  assert.throws(() => plan(['--add-host', 'nohost', 'busybox']), /bad format for add-host/);
  assert.throws(() => plan(['--env-file', '/nope', 'busybox']), { message: '--env-file: open /nope: no such file or directory' });
});

test('env files', () => {
  assert.deepEqual(parseEnvFile('# comment\n\nA=1\n  B=two words\nHOSTVAR\nUNSET\n', { HOSTVAR: 'x' }), ['A=1', 'B=two words', 'HOSTVAR=x']);
  const { request } = plan(['--env-file', '/e', '-e', 'C=3', 'busybox'], {}, { '/e': 'A=1\n' });
  assert.deepEqual(request.Env, ['A=1', 'C=3']);
});
