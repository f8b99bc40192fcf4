// `berth exec` flags to the exec configuration the docker CLI sends (parseExec).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildExecRequest, validateExecEnv } from '../../src/cli/commands/exec.js';
import { FlagError } from '../../src/cli/flags.js';

const environment = { env: { FROM_CLIENT: 'client', LISTED: 'yes' }, readFile: () => '# a comment\nFILE=1\nLISTED\nUNSET_HERE\n' };

test('attached by default: stdout and stderr, stdin with -i', () => {
  const request = buildExecRequest({ interactive: true, tty: true, user: 'app:staff', workdir: '/srv', privileged: true }, ['sh', '-c', 'x'], environment);
  assert.deepEqual(request, {
    User: 'app:staff', Privileged: true, Tty: true, Cmd: ['sh', '-c', 'x'], WorkingDir: '/srv', Env: [],
    AttachStdin: true, AttachStdout: true, AttachStderr: true, DetachKeys: '',
  });
});

test('-d attaches nothing, even with -i', () => {
  const request = buildExecRequest({ detach: true, interactive: true, 'detach-keys': 'ctrl-a' }, ['true'], environment);
  assert.deepEqual([request.AttachStdin, request.AttachStdout, request.AttachStderr, request.DetachKeys], [false, false, false, 'ctrl-a']);
});

test('--env-file entries come first, then -e; bare names take the client value', () => {
  const request = buildExecRequest({ env: ['A=1', 'FROM_CLIENT', 'MISSING'], 'env-file': ['vars.env'] }, ['env'], environment);
  assert.deepEqual(request.Env, ['FILE=1', 'LISTED=yes', 'A=1', 'FROM_CLIENT=client', 'MISSING']);
});

test('an empty variable name is a flag error worded as pflag does', () => {
  assert.throws(() => validateExecEnv('=x', {}), (error: unknown) => error instanceof FlagError
    && error.message === 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x');
});
