// Unit tests for `--change` instructions (src/images/changes.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../../src/errdefs/errors.js';
import { applyChanges, processWord } from '../../src/images/changes.js';

describe('applyChanges', () => {
  it('leaves the config alone without changes', () => {
    const config = { Cmd: ['sh'] };
    assert.equal(applyChanges(config, []), config);
  });

  it('sets CMD and ENTRYPOINT in JSON and shell form', () => {
    assert.deepEqual(applyChanges({}, ['CMD ["sh", "-c", "echo hi"]']).Cmd, ['sh', '-c', 'echo hi']);
    assert.deepEqual(applyChanges({}, ['CMD echo "hi there"']).Cmd, ['/bin/sh', '-c', 'echo "hi there"']);
    const both = applyChanges({}, ['CMD ["x"]', 'ENTRYPOINT ["/init"]']);
    assert.deepEqual(both.Entrypoint, ['/init']);
    assert.deepEqual(both.Cmd, ['x']);
    assert.deepEqual(applyChanges({ Cmd: ['old'] }, ['ENTRYPOINT top -b']), { Cmd: null, Entrypoint: ['/bin/sh', '-c', 'top -b'] });
    assert.deepEqual(applyChanges({}, ['cmd [not json']).Cmd, ['/bin/sh', '-c', '[not json']);
  });

  it('sets ENV in both forms, replacing existing keys and expanding variables', () => {
    const config = applyChanges({ Env: ['PATH=/bin', 'A=old'] }, [
      'ENV A=1 B="two words" C=$A',
      'ENV D some value',
      'ENV PATH=/usr/local/bin:$PATH',
      'ENV E=${A}x F=${UNSET:-dflt} G=\'$A\'',
    ]);
    assert.deepEqual(config.Env, ['PATH=/usr/local/bin:/bin', 'A=1', 'B=two words', 'C=1', 'D=some value', 'E=1x', 'F=dflt', 'G=$A']);
  });

  it('sets EXPOSE, USER, WORKDIR, LABEL, STOPSIGNAL, VOLUME, ONBUILD', () => {
    const config = applyChanges({}, [
      'EXPOSE 80 53/udp 8000-8001',
      'USER nobody',
      'WORKDIR /app',
      'WORKDIR sub',
      'LABEL a=b "c d"="e f"',
      'STOPSIGNAL SIGINT',
      'VOLUME /data /logs',
      'VOLUME ["/json"]',
      'ONBUILD RUN echo hi',
    ]);
    assert.deepEqual(config.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
    assert.equal(config.User, 'nobody');
    assert.equal(config.WorkingDir, '/app/sub');
    assert.deepEqual(config.Labels, { a: 'b', 'c d': 'e f' });
    assert.equal(config.StopSignal, 'SIGINT');
    assert.deepEqual(config.Volumes, { '/data': {}, '/logs': {}, '/json': {} });
    assert.deepEqual(config.OnBuild, ['RUN echo hi']);
  });

  it('sets HEALTHCHECK', () => {
    assert.deepEqual(applyChanges({}, ['HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/']).Healthcheck, {
      Test: ['CMD-SHELL', 'curl -f http://localhost/'], Interval: 5e9, Retries: 3,
    });
    assert.deepEqual(applyChanges({}, ['HEALTHCHECK CMD ["true"]']).Healthcheck, { Test: ['CMD', 'true'] });
    assert.deepEqual(applyChanges({}, ['HEALTHCHECK NONE']).Healthcheck, { Test: ['NONE'] });
  });

  it('joins continuation lines and skips comments', () => {
    assert.deepEqual(applyChanges({}, ['# a comment\nENV A=1 \\\n  B=2']).Env, ['A=1', 'B=2']);
  });

  it('rejects other instructions with Docker\'s message', () => {
    assert.throws(() => applyChanges({}, ['RUN echo hi']), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.kind, 'invalid-parameter');
      assert.equal(error.message, 'run is not a valid change command');
      return true;
    });
    assert.throws(() => applyChanges({}, ['ENV A=1', 'FROM scratch']), { message: 'from is not a valid change command' });
  });

  it('rejects bad arguments', () => {
    assert.throws(() => applyChanges({}, ['ENV A']), { message: 'ENV must have two arguments' });
    assert.throws(() => applyChanges({}, ['ENV =x']), { message: 'ENV names can not be blank' });
    assert.throws(() => applyChanges({}, ['STOPSIGNAL NOPE']), { message: 'Invalid signal: NOPE' });
    assert.throws(() => applyChanges({}, ['EXPOSE abc']), /invalid containerPort/);
    assert.throws(() => applyChanges({}, ['CMD --help']), { message: 'Unknown flag: help' });
    assert.throws(() => applyChanges({}, ['ONBUILD ONBUILD RUN x']), /Chaining ONBUILD/);
    assert.throws(() => applyChanges({}, ['HEALTHCHECK --interval=1us CMD true']), { message: 'Interval "interval" cannot be less than 1ms' });
  });

  it('does not modify its input', () => {
    const config = { Env: ['A=1'] };
    applyChanges(config, ['ENV A=2']);
    assert.deepEqual(config, { Env: ['A=1'] });
  });
});

describe('helpers', () => {
  it('processes words like the Dockerfile lexer', () => {
    assert.equal(processWord('"a $X b"', ['X=1']), 'a 1 b');
    assert.equal(processWord("'$X'", ['X=1']), '$X');
    assert.equal(processWord('\\$X', ['X=1']), '$X');
    assert.equal(processWord('${X:+set}${Y:+set}', ['X=1']), 'set');
  });

  it('reads HEALTHCHECK intervals as Go durations, in nanoseconds', () => {
    const interval = (text: string) => applyChanges({}, [`HEALTHCHECK --interval=${text} CMD true`]).Healthcheck?.Interval;
    assert.equal(interval('1m30s'), 90e9);
    assert.equal(interval('500ms'), 500e6);
    assert.equal(interval('1.5h'), 5400e9);
    assert.throws(() => interval('10'), { kind: 'invalid-parameter', message: 'time: missing unit in duration "10"' });
    assert.throws(() => interval('1us'), { message: 'Interval "interval" cannot be less than 1ms' });
  });
});
