// The pure parts of exec: the OCI process built from the container's, the environment merge,
// Docker's wording and exit codes for an exec that cannot start, Go's duration text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildExecProcess, execEnvironment, execStartFailure, goDurationString, replaceOrAppendEnv, type ExecProcessInput } from '../../src/containers/exec.js';
import type { OciProcess } from '../../src/runtime/oci-types.js';

const containerCaps = ['CAP_CHOWN', 'CAP_KILL'];
const base: OciProcess = {
  terminal: false,
  user: { uid: 0, gid: 0, additionalGids: [0, 10] },
  args: ['sleep', '1000'],
  env: ['PATH=/bin', 'HOME=/root'],
  cwd: '/srv',
  capabilities: { bounding: containerCaps, effective: containerCaps, permitted: containerCaps },
  rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }],
  noNewPrivileges: true,
  apparmorProfile: 'docker-default',
  oomScoreAdj: 5,
};

function input(overrides: Partial<ExecProcessInput> = {}): ExecProcessInput {
  return {
    base, args: ['sh', '-c', 'echo hi'], env: ['PATH=/usr/bin', 'FOO=bar'], home: '/home/app', cwd: '/tmp', tty: false,
    consoleSize: null, user: { uid: 1000, gid: 1000, additionalGids: [1000] }, privileged: false, hostCapabilities: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'],
    ...overrides,
  };
}

test('an exec inherits the container process and replaces command, env, cwd, user, terminal', () => {
  const process = buildExecProcess(input());
  assert.deepEqual(process.args, ['sh', '-c', 'echo hi']);
  assert.deepEqual(process.env, ['PATH=/usr/bin', 'FOO=bar', 'HOME=/home/app']);
  assert.equal(process.cwd, '/tmp');
  assert.deepEqual(process.user, { uid: 1000, gid: 1000, additionalGids: [1000] });
  assert.equal(process.terminal, false);
  assert.deepEqual(process.capabilities, base.capabilities);
  assert.equal(process.noNewPrivileges, true);
  assert.equal(process.apparmorProfile, 'docker-default');
  assert.deepEqual(process.rlimits, base.rlimits);
  assert.equal(process.oomScoreAdj, 5);
  assert.equal(process.consoleSize, undefined);
  assert.deepEqual(base.args, ['sleep', '1000'], 'the container process is left alone');
});

test('HOME given by the exec wins; an empty cwd is /', () => {
  const process = buildExecProcess(input({ env: ['HOME=/mine'], cwd: '' }));
  assert.deepEqual(process.env, ['HOME=/mine']);
  assert.equal(process.cwd, '/');
});

test('--privileged grants the host bounding set; a TTY gets the console size', () => {
  const process = buildExecProcess(input({ privileged: true, tty: true, consoleSize: [24, 80] }));
  const all = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'];
  assert.deepEqual(process.capabilities, { bounding: all, effective: all, permitted: all });
  assert.equal(process.terminal, true);
  assert.deepEqual(process.consoleSize, { height: 24, width: 80 });
  assert.equal(buildExecProcess(input({ tty: false, consoleSize: [24, 80] })).consoleSize, undefined);
  assert.equal(buildExecProcess(input({ tty: true, consoleSize: [0, 0] })).consoleSize, undefined);
});

test('the environment: PATH and HOSTNAME, TERM with a TTY, the container Env, then the exec Env', () => {
  const config = { Hostname: 'abc123', Env: ['PATH=/custom', 'KEEP=1', 'DROP=2'] };
  assert.deepEqual(execEnvironment(config, false, ['NEW=3', 'KEEP=changed', 'DROP']), ['PATH=/custom', 'HOSTNAME=abc123', 'KEEP=changed', 'NEW=3']);
  assert.deepEqual(execEnvironment({ Hostname: 'h' }, true, []), [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'TERM=xterm',
  ]);
  assert.deepEqual(replaceOrAppendEnv(['A=1', 'B=2'], ['B', 'C=3', 'A=0', 'NOPE']), ['A=0', 'C=3']);
});

test('an exec that cannot start: Docker wording, exit code and kind', () => {
  const notFound = execStartFailure('exec failed: unable to start container process: exec: "nope": executable file not found in $PATH');
  assert.deepEqual(notFound, {
    message: 'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown',
    exitCode: 127, kind: 'invalid-parameter',
  });
  assert.equal(execStartFailure('exec: "/etc/passwd": permission denied').exitCode, 126);
  const directory = execStartFailure('exec: "/etc": is a directory');
  assert.deepEqual([directory.exitCode, directory.message.endsWith(': unknown: permission denied')], [126, true]);
  assert.equal(execStartFailure('chdir to cwd ("/nope") set in config.json failed: no such file or directory').exitCode, 127);
  assert.deepEqual(execStartFailure('container does not exist'), { message: 'OCI runtime exec failed: container does not exist: unknown', exitCode: 128, kind: 'system' });
});

test('durations read as Go prints them', () => {
  assert.equal(goDurationString(30_000), '30s');
  assert.equal(goDurationString(1500), '1.5s');
  assert.equal(goDurationString(300), '300ms');
  assert.equal(goDurationString(90_000), '1m30s');
  assert.equal(goDurationString(120_000), '2m0s');
  assert.equal(goDurationString(3_600_000), '1h0m0s');
  assert.equal(goDurationString(0), '0s');
});
