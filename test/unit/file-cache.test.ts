// Unit tests for FileCache: parsed once, read again when the file changes, never through a symlink.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCache } from '../../src/util/file-cache.js';

describe('FileCache', () => {
  it('parses a file once while it stays the same, again once it changes, and forgets on request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'file-cache-'));
    try {
      let parses = 0;
      const cache = new FileCache((text) => { parses++; return text.trim(); });
      const path = join(dir, 'passwd');
      await writeFile(path, 'root:x:0:0\n');
      assert.equal(await cache.read(path), 'root:x:0:0');
      assert.equal(await cache.read(path), 'root:x:0:0');
      assert.equal(parses, 1);
      await writeFile(path, 'root:x:0:0\nnobody:x:65534:65534\n');
      assert.equal(await cache.read(path), 'root:x:0:0\nnobody:x:65534:65534');
      assert.equal(parses, 2);
      cache.forgetPathsWith('passwd');
      await cache.read(path);
      assert.equal(parses, 3);
      await rm(path);
      assert.equal(await cache.read(path), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers undefined for a symbolic link and for a file that does not parse', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'file-cache-'));
    try {
      await writeFile(join(dir, 'real'), '{"process":{}}');
      await symlink(join(dir, 'real'), join(dir, 'link'));
      await writeFile(join(dir, 'broken'), '{');
      const cache = new FileCache((text) => JSON.parse(text) as unknown);
      assert.equal(await cache.read(join(dir, 'link')), undefined);
      assert.equal(await cache.read(join(dir, 'broken')), undefined);
      assert.deepEqual(await cache.read(join(dir, 'real')), { process: {} });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
