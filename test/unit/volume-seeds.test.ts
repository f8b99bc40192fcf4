// Unit tests for the names of volume seeds (src/volumes/seeds.ts): one per image and path, and
// the image read back from a name, so that start-up and rmi find an image's seeds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedImage, seedName } from '../../src/volumes/seeds.js';

const HEX = 'ab'.repeat(32);

describe('seedName', () => {
  it('is the image hex, then a hash of the path', () => {
    assert.match(seedName(`sha256:${HEX}`, '/data'), new RegExp(`^${HEX}-[0-9a-f]{16}$`));
    assert.equal(seedName(`sha256:${HEX}`, '/data'), seedName(HEX, '/data'), 'with or without the algorithm');
  });
  it('names one path however it is spelled, and two paths apart', () => {
    assert.equal(seedName(HEX, '/var/lib/db'), seedName(HEX, '/var//lib/db/'));
    assert.equal(seedName(HEX, '/var/lib/db'), seedName(HEX, '/var/./lib/db'));
    assert.notEqual(seedName(HEX, '/data'), seedName(HEX, '/data2'));
    assert.notEqual(seedName(HEX, '/data'), seedName('cd'.repeat(32), '/data'));
  });
});

describe('seedImage', () => {
  it('reads the image back from a seed name', () => {
    assert.equal(seedImage(seedName(HEX, '/data')), HEX);
  });
  it('knows temporary and foreign names for what they are', () => {
    for (const name of ['.tmp-0123456789ab', '.mnt-0123456789ab', `${HEX}`, `${HEX}-xyz`, 'data']) assert.equal(seedImage(name), undefined, name);
  });
});
