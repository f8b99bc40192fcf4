// Unit tests for the Dockerfile parser (src/build/dockerfile/parser.ts), the stage split and
// the pure parts of the build (context wildcards, .dockerignore, the cache key). The edge
// cases follow those BuildKit's parser tests exercise (frontend/dockerfile/parser/testfiles).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { neededStages, splitStages } from '../../src/build/builder.js';
import { cacheKey } from '../../src/build/cache.js';
import { globRegExp } from '../../src/build/context.js';
import { contextFilter, parseDockerignore } from '../../src/build/dockerignore.js';
import { instructionFlags, parseDockerfile } from '../../src/build/dockerfile/parser.js';
import { processWord } from '../../src/images/changes.js';

const parse = (text: string) => parseDockerfile(text).instructions;
const brief = (text: string) => parse(text).map((instruction) => [instruction.keyword, instruction.flags, instruction.rest]);

describe('Dockerfile parser', () => {
  it('reads keywords case-insensitively, skips comments and blank lines, keeps line numbers', () => {
    const instructions = parse('# a comment\n\nfrom busybox\n  # indented comment\nRun echo hi\n');
    assert.deepEqual(instructions.map((i) => [i.keyword, i.rest, i.startLine]), [['FROM', 'busybox', 3], ['RUN', 'echo hi', 5]]);
  });

  it('joins continued lines, dropping comment lines inside them', () => {
    const [run] = parse('FROM x\nRUN echo a \\\n# inner comment\n  && echo b \\\n  && echo c\n').slice(1);
    assert.equal(run!.rest, 'echo a   && echo b   && echo c');
    assert.equal(run!.startLine, 2);
    assert.equal(run!.endLine, 5);
  });

  it('warns about empty continuation lines, as Docker does', () => {
    const parsed = parseDockerfile('FROM x\nRUN echo a \\\n\n  b\n');
    assert.equal(parsed.instructions[1]!.rest, 'echo a   b');
    assert.equal(parsed.warnings.length, 1);
  });

  it('honours the escape directive (backtick) and accepts syntax', () => {
    const parsed = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n');
    assert.equal(parsed.escape, '`');
    assert.equal(parsed.instructions[1]!.rest, 'dir c:\\   && echo');
  });

  it('stops reading directives at the first other line', () => {
    const parsed = parseDockerfile('# comment\n# escape=`\nFROM x\nRUN a \\\n b\n');
    assert.equal(parsed.escape, '\\');
    assert.equal(parsed.instructions[1]!.rest, 'a  b');
  });

  it('refuses a repeated or invalid directive', () => {
    assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM x\n'), /line 2: only one escape parser directive can be used/);
    assert.throws(() => parseDockerfile('# escape=x\nFROM x\n'), /invalid escape token 'x'/);
  });

  it('names the line and the instruction of an unknown instruction', () => {
    assert.throws(() => parse('FROM busybox\n\nFOO bar\n'), { message: 'dockerfile parse error on line 3: unknown instruction: FOO' });
    assert.throws(() => parse('FROM busybox\nRUN a \\\n b\nfoo\n'), { message: 'dockerfile parse error on line 4: unknown instruction: foo' });
  });

  it('tells exec form from shell form', () => {
    const [cmd, shell, broken] = parse('CMD ["a", "b c"]\nCMD a b\nCMD [a, b]\n');
    assert.deepEqual(cmd!.json, ['a', 'b c']);
    assert.equal(shell!.json, undefined);
    assert.equal(broken!.json, undefined);
    assert.equal(broken!.rest, '[a, b]');
  });

  it('takes leading --flags off, with values and repeated', () => {
    assert.deepEqual(brief('COPY --from=build --chown=1:2 a b\nFROM --platform=linux/amd64 busybox AS x\n'), [
      ['COPY', ['--from=build', '--chown=1:2'], 'a b'],
      ['FROM', ['--platform=linux/amd64'], 'busybox AS x'],
    ]);
    const [copy] = parse('COPY --chown=1 --chmod=755 a b\n');
    assert.deepEqual([...instructionFlags(copy!, ['chown', 'chmod'])], [['chown', ['1']], ['chmod', ['755']]]);
    assert.throws(() => instructionFlags(copy!, ['chown']), /line 1: Unknown flag: chmod/);
  });

  it('reads heredocs after RUN, COPY and ADD', () => {
    const [run, copy] = parse('RUN <<EOF\necho a\n  echo b\nEOF\nCOPY <<one <<"two" /dst/\n$X\nEOF\none\nsecond\ntwo\n');
    assert.deepEqual(run!.heredocs, [{ name: 'EOF', content: 'echo a\n  echo b\n', expand: true }]);
    assert.equal(run!.rest, '<<EOF');
    assert.deepEqual(copy!.heredocs, [{ name: 'one', content: '$X\nEOF\n', expand: true }, { name: 'two', content: 'second\n', expand: false }]);
    assert.equal(copy!.endLine, 10);
  });

  it('strips leading tabs with <<-', () => {
    const [run] = parse('RUN cat <<-END\n\tindented\n\t\tmore\n\tEND\nCMD x\n');
    assert.equal(run!.heredocs[0]!.content, 'indented\nmore\n');
  });

  it('leaves << alone in other instructions and refuses an unterminated heredoc', () => {
    assert.deepEqual(parse('ENV A=<<EOF\n')[0]!.heredocs, []);
    assert.throws(() => parse('RUN <<EOF\necho\n'), /line 1: unterminated heredoc EOF/);
  });

  it('keeps CRLF files and a byte-order mark readable', () => {
    assert.deepEqual(brief('\uFEFFFROM x\r\nRUN a \\\r\n b\r\n'), [['FROM', [], 'x'], ['RUN', [], 'a  b']]);
  });
});

describe('variable substitution', () => {
  const env = ['A=1', 'EMPTY='];
  it('expands $V, ${V}, defaults and alternatives, and keeps escaped dollars', () => {
    assert.equal(processWord('$A-${A}', env), '1-1');
    assert.equal(processWord('${UNSET:-d}${EMPTY:-e}${A:-x}', env), 'de1');
    assert.equal(processWord('${A:+set}${UNSET:+no}', env), 'set');
    assert.equal(processWord('\\$A', env), '$A');
    assert.equal(processWord("'$A'", env), '$A');
  });
});

describe('stages', () => {
  const stagesOf = (text: string, args: Record<string, string> = {}) => splitStages(parse(text), new Map(Object.entries(args)));

  it('expands FROM with the ARGs before it, build args first', () => {
    const { stages, metaArgs } = stagesOf('ARG TAG=1\nARG BASE\nFROM busybox:$TAG AS one\nFROM ${BASE:-alpine}\n', { TAG: '2' });
    assert.deepEqual(stages.map((stage) => [stage.name, stage.base]), [['one', 'busybox:2'], [undefined, 'alpine']]);
    assert.equal(metaArgs.get('TAG'), '2');
  });

  it('refuses instructions before FROM, bad stage names and duplicates', () => {
    assert.throws(() => stagesOf('RUN true\n'), { message: 'dockerfile parse error on line 1: no build stage in current context' });
    assert.throws(() => stagesOf('FROM x AS 1a\n'), /invalid name for build stage/);
    assert.throws(() => stagesOf('FROM x AS a\nFROM y AS A\n'), /line 2: duplicate name a/);
    assert.throws(() => stagesOf('FROM x y\n'), /FROM requires either one or three arguments/);
  });

  it('needs only the stages the target uses, by name or index', () => {
    const { stages, metaArgs } = stagesOf('FROM busybox AS a\nFROM busybox AS b\nFROM a AS c\nCOPY --from=1 /x /\nFROM busybox AS unused\nFROM c\n');
    assert.deepEqual(neededStages(stages, stages[4]!, metaArgs).map((stage) => stage.index), [0, 1, 2, 4]);
    assert.deepEqual(neededStages(stages, stages[1]!, metaArgs).map((stage) => stage.index), [1]);
  });
});

describe('build context', () => {
  it('matches wildcards as filepath.Match: * and ? stop at /', () => {
    assert.ok(globRegExp('/src/*.ts').test('/src/a.ts'));
    assert.ok(!globRegExp('/src/*.ts').test('/src/sub/a.ts'));
    assert.ok(globRegExp('/f?le[0-9]').test('/file7'));
    assert.ok(!globRegExp('/f?le[0-9]').test('/file'));
    assert.ok(globRegExp('/[!a]x').test('/bx'));
  });

  it('reads .dockerignore with Docker rules: !, **, leading /', () => {
    const filter = contextFilter(parseDockerignore('# comment\n*.log\n!keep.log\n/build\n**/tmp\nsecret/**\n!secret/public\n'));
    assert.ok(filter.excludes('a.log'));
    assert.ok(!filter.excludes('keep.log'));
    assert.ok(!filter.excludes('sub/a.log'));
    assert.ok(filter.excludes('build'));
    assert.ok(filter.excludes('x/y/tmp'));
    assert.ok(filter.excludes('secret/key'));
    assert.ok(!filter.excludes('secret/public'));
    assert.ok(filter.mayIncludeBelow('secret'));
    assert.ok(!filter.mayIncludeBelow('build'));
  });
});

describe('build cache key', () => {
  it('does not depend on key order but on every value and the parent', () => {
    assert.equal(cacheKey('p', { Cmd: ['a'], Env: ['A=1'] }), cacheKey('p', { Env: ['A=1'], Cmd: ['a'] }));
    assert.notEqual(cacheKey('p', { Cmd: ['a'] }), cacheKey('q', { Cmd: ['a'] }));
    assert.notEqual(cacheKey('p', { Cmd: ['a'] }), cacheKey('p', { Cmd: ['a'], User: 'x' }));
  });
});
