import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeTarFailure, layerEntryBreakout } from '../../src/layers/store.js';

test('layer entries that stay inside the layer pass', () => {
  assert.equal(layerEntryBreakout({ name: 'bin/sh', type: 'file' }), undefined);
  assert.equal(layerEntryBreakout({ name: './a/../b', type: 'file' }), undefined);
  // An absolute name is taken from the layer's root, as moby joins it to the destination.
  assert.equal(layerEntryBreakout({ name: '/etc/passwd', type: 'file' }), undefined);
  assert.equal(layerEntryBreakout({ name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' }), undefined);
  assert.equal(layerEntryBreakout({ name: 'usr/bin/sh', type: 'symlink', linkname: '../../bin/busybox' }), undefined);
  assert.equal(layerEntryBreakout({ name: 'bin/ls', type: 'link', linkname: 'bin/busybox' }), undefined);
  assert.equal(layerEntryBreakout({ name: 'bin/ls', type: 'link', linkname: '/bin/busybox' }), undefined);
});

test('layer entries that reach outside are refused with moby\'s wording', () => {
  assert.equal(layerEntryBreakout({ name: '../etc/passwd', type: 'file' }), '"../etc/passwd" is outside of "/"');
  assert.equal(layerEntryBreakout({ name: 'a/../../x', type: 'directory' }), '"a/../../x" is outside of "/"');
  assert.equal(layerEntryBreakout({ name: 'usr/escape', type: 'symlink', linkname: '../../etc' }), 'invalid symlink "/usr/escape" -> "../../etc"');
  assert.equal(layerEntryBreakout({ name: 'hard', type: 'link', linkname: '../etc/shadow' }), 'invalid hardlink "/hard" -> "../etc/shadow"');
});

test('GNU tar\'s short write and ENOSPC read as Docker\'s "no space left on device"', () => {
  assert.equal(describeTarFailure('tar: big.bin: Wrote only 512 of 10240 bytes\ntar: Exiting with failure status due to previous errors\n', 2),
    'write /big.bin: no space left on device');
  assert.equal(describeTarFailure('tar: usr/lib/x: Cannot open: No space left on device\n', 2), 'write /usr/lib/x: no space left on device');
  assert.equal(describeTarFailure('tar: This does not look like a tar archive\n', 2), 'tar: This does not look like a tar archive');
  assert.equal(describeTarFailure('', 2), 'tar exit status 2');
});
