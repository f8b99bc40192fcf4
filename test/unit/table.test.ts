// Unit tests for the tabwriter-compatible table formatter.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable, tabwrite } from '../../src/cli/table.js';

describe('formatTable', () => {
  it('renders docker ps with no containers', () => {
    assert.equal(
      formatTable([['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']]),
      'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n',
    );
  });

  it('renders docker ps with a container', () => {
    const out = formatTable([
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
      ['4c01db0b339c', 'busybox', '"sh"', '2 minutes ago', 'Up 2 minutes', '', 'quirky_lamport'],
    ]);
    assert.equal(
      out,
      'CONTAINER ID   IMAGE     COMMAND   CREATED         STATUS         PORTS     NAMES\n' +
        '4c01db0b339c   busybox   "sh"      2 minutes ago   Up 2 minutes             quirky_lamport\n',
    );
  });

  it('widens columns to the longest cell plus three spaces and never pads the last column', () => {
    const out = formatTable([
      ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
      ['docker.io/library/nginx', 'latest', 'a6bd71f48f68', '2 weeks ago', '187MB'],
      ['busybox', '1.36', 'a416a98b71e2', '3 months ago', '4.26MB'],
    ]);
    assert.equal(
      out,
      [
        'REPOSITORY                TAG       IMAGE ID       CREATED        SIZE',
        'docker.io/library/nginx   latest    a6bd71f48f68   2 weeks ago    187MB',
        'busybox                   1.36      a416a98b71e2   3 months ago   4.26MB',
        '',
      ].join('\n'),
    );
  });

  it('counts characters, not bytes', () => {
    assert.equal(formatTable([['NAME', 'X'], ['héllo…wörld', 'y']]), 'NAME          X\nhéllo…wörld   y\n');
  });

  it('returns an empty string for no rows', () => {
    assert.equal(formatTable([]), '');
  });

  it('handles a single column (no alignment needed)', () => {
    assert.equal(formatTable([['ID'], ['abc']]), 'ID\nabc\n');
  });
});

describe('tabwrite', () => {
  it('aligns column blocks separately, as tabwriter does', () => {
    // The line without tabs ends the first block; the next block gets its own widths.
    const text = 'a\tb\nlonger-cell\tc\nno tabs here\nx\ty\n';
    assert.equal(tabwrite(text), 'a             b\nlonger-cell   c\nno tabs here\nx         y\n');
  });

  it('pads a cell that is tab-terminated even when empty', () => {
    assert.equal(tabwrite('a\t\tb\n'), 'a         ' + ' '.repeat(10) + 'b\n');
  });

  it('keeps lines with fewer cells in the block of the columns they have', () => {
    const text = 'a\tb\tc\nd\te\nf\tg\th\n';
    assert.equal(tabwrite(text), 'a         b         c\nd         e\nf         g         h\n');
  });

  it('keeps text without a trailing newline', () => {
    assert.equal(tabwrite('a\tb'), 'a         b');
  });

  it('supports custom widths', () => {
    assert.equal(tabwrite('ab\tc\n', { minWidth: 0, padding: 1, padChar: '.' }), 'ab.c\n');
  });
});
