// Unit tests for the prune prompt (docker's prompt.Confirm): only "y" or "Y" is yes, an answer
// without a newline still counts, and the end of input (CI has no stdin) is no.
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { confirm } from '../../src/cli/commands/images.js';

async function ask(input: Readable): Promise<{ answer: boolean; written: string }> {
  let written = '';
  const answer = await confirm('Sure?', input, (text) => { written += text; });
  return { answer, written };
}

describe('confirm', () => {
  it('prints the question with [y/N] and takes y or Y as yes', async () => {
    assert.deepEqual(await ask(Readable.from(['y\n'])), { answer: true, written: 'Sure? [y/N] ' });
    assert.equal((await ask(Readable.from([' Y \nignored\n']))).answer, true);
    assert.equal((await ask(Readable.from(['y']))).answer, true, 'the last line needs no newline');
  });

  it('reads anything else, and the end of input, as no', async () => {
    assert.equal((await ask(Readable.from(['yes\n']))).answer, false);
    assert.equal((await ask(Readable.from(['\n']))).answer, false);
    assert.equal((await ask(Readable.from([]))).answer, false);
    const closed = new PassThrough();
    closed.end();
    assert.equal((await ask(closed)).answer, false);
  });

  it('answers after the first line, without waiting for the end of input', async () => {
    const open = new PassThrough();
    const pending = ask(open);
    open.write('n\n');
    assert.equal((await pending).answer, false);
    open.destroy();
  });
});
