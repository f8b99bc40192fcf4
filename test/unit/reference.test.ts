// Unit tests for image reference parsing and normalisation (src/images/reference.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  familiarName, familiarString, fullString, isIdPrefix, looksLikeIdPrefix, normalizeTagged, parseReference, validateTag,
} from '../../src/images/reference.js';

const HEX = 'a'.repeat(64);

describe('parseReference', () => {
  it('normalises an official image name', () => {
    assert.deepEqual(parseReference('busybox'), { domain: 'docker.io', path: 'library/busybox' });
    assert.deepEqual(normalizeTagged(parseReference('busybox')), { domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
  });

  it('keeps user repositories under docker.io', () => {
    assert.deepEqual(parseReference('me/app:v1'), { domain: 'docker.io', path: 'me/app', tag: 'v1' });
    assert.deepEqual(parseReference('index.docker.io/me/app'), { domain: 'docker.io', path: 'me/app' });
    assert.deepEqual(parseReference('docker.io/busybox'), { domain: 'docker.io', path: 'library/busybox' });
  });

  it('recognises registries by a dot, a port or localhost', () => {
    assert.deepEqual(parseReference('127.0.0.1:5000/me/app:v1'), { domain: '127.0.0.1:5000', path: 'me/app', tag: 'v1' });
    assert.deepEqual(parseReference('localhost/app'), { domain: 'localhost', path: 'app' });
    assert.deepEqual(parseReference('registry.example/app'), { domain: 'registry.example', path: 'app' });
    assert.deepEqual(parseReference('localhost:5000/a/b/c'), { domain: 'localhost:5000', path: 'a/b/c' });
  });

  it('parses digests, with or without a tag', () => {
    assert.deepEqual(parseReference(`busybox@sha256:${HEX}`), { domain: 'docker.io', path: 'library/busybox', digest: `sha256:${HEX}` });
    assert.deepEqual(parseReference(`busybox:1.36@sha256:${HEX}`), {
      domain: 'docker.io', path: 'library/busybox', tag: '1.36', digest: `sha256:${HEX}`,
    });
    assert.throws(() => parseReference(`busybox@sha256:${'a'.repeat(40)}`), /invalid checksum digest length/);
    assert.throws(() => parseReference('busybox@sha256:abc'), /invalid reference format/);
    assert.throws(() => parseReference(`busybox@md5:${HEX}`), /unsupported digest algorithm/);
  });

  it('rejects invalid references with Docker\'s messages', () => {
    assert.throws(() => parseReference('Busybox'), { message: 'invalid reference format: repository name (library/Busybox) must be lowercase' });
    assert.throws(() => parseReference('me/App:v1'), { message: 'invalid reference format: repository name (me/App) must be lowercase' });
    assert.throws(() => parseReference(''), { message: 'invalid reference format' });
    assert.throws(() => parseReference('busybox:'), { message: 'invalid reference format' });
    assert.throws(() => parseReference('a b'), { message: 'invalid reference format' });
    assert.throws(() => parseReference('-app'), { message: 'invalid reference format' });
    assert.throws(() => parseReference('app:-bad'), { message: 'invalid reference format' });
    assert.throws(() => parseReference(`app:${'x'.repeat(129)}`), { message: 'invalid reference format' });
    assert.throws(() => parseReference(HEX), { message: `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings` });
  });

  it('accepts separators Docker accepts', () => {
    assert.equal(parseReference('me/a__b.c-d---e/f_g').path, 'me/a__b.c-d---e/f_g');
    assert.equal(parseReference('a.b/c').domain, 'a.b');
    assert.equal(parseReference('app:V1.0_rc-1').tag, 'V1.0_rc-1');
    assert.throws(() => parseReference('a___b'));
    assert.throws(() => parseReference('a..b'));
  });
});

describe('familiar forms', () => {
  it('strips docker.io and library/', () => {
    assert.equal(familiarName(parseReference('docker.io/library/busybox')), 'busybox');
    assert.equal(familiarString(normalizeTagged(parseReference('busybox'))), 'busybox:latest');
    assert.equal(familiarString(parseReference('me/app:v1')), 'me/app:v1');
    assert.equal(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b');
  });

  it('keeps other registries', () => {
    assert.equal(familiarString(parseReference('127.0.0.1:5000/me/app:v1')), '127.0.0.1:5000/me/app:v1');
    assert.equal(familiarString(parseReference(`localhost/app@sha256:${HEX}`)), `localhost/app@sha256:${HEX}`);
  });

  it('gives the fully qualified form', () => {
    assert.equal(fullString(normalizeTagged(parseReference('busybox'))), 'docker.io/library/busybox:latest');
  });

  it('does not add latest to a digest reference', () => {
    assert.equal(normalizeTagged(parseReference(`busybox@sha256:${HEX}`)).tag, undefined);
  });
});

describe('ID prefixes and tags', () => {
  it('tells what could be an ID prefix', () => {
    assert.equal(looksLikeIdPrefix('abc123'), true);
    assert.equal(looksLikeIdPrefix('sha256:abc'), true);
    assert.equal(looksLikeIdPrefix('busybox'), false);
    assert.equal(looksLikeIdPrefix(''), false);
    assert.equal(isIdPrefix(`sha256:${HEX}`, 'aaa'), true);
    assert.equal(isIdPrefix(`sha256:${HEX}`, 'sha256:aa'), true);
    assert.equal(isIdPrefix(`sha256:${HEX}`, 'busybox'), false);
  });

  it('validates tags', () => {
    validateTag('v1.0');
    assert.throws(() => validateTag('.bad'), /invalid tag format/);
    assert.throws(() => validateTag('x'.repeat(129)), /invalid tag format/);
  });
});
