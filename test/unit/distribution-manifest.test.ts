// Manifest parsing, platform selection and push manifests (src/images/manifest.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildManifest, MEDIA_TYPES, ManifestError, parseManifest, selectPlatform } from '../../src/images/manifest.js';
import { sha256Digest } from '../../src/content/store.js';
import { isInsecureByDefault, registryErrorMessage } from '../../src/distribution/registry-client.js';
import { pullReference } from '../../src/distribution/service.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const D3 = `sha256:${'c'.repeat(64)}`;

test('parses a Docker schema 2 manifest', () => {
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest,
    config: { mediaType: MEDIA_TYPES.dockerConfig, size: 10, digest: D1 },
    layers: [{ mediaType: MEDIA_TYPES.dockerLayerGzip, size: 20, digest: D2 }],
  }));
  const parsed = parseManifest(bytes);
  assert.equal(parsed.kind, 'image');
  assert.deepEqual(parsed.kind === 'image' && parsed.layers, [{ mediaType: MEDIA_TYPES.dockerLayerGzip, size: 20, digest: D2 }]);
});

test('an OCI manifest without mediaType takes it from the Content-Type', () => {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: MEDIA_TYPES.ociConfig, size: 1, digest: D1 }, layers: [] }));
  const parsed = parseManifest(bytes, `${MEDIA_TYPES.ociManifest}; charset=utf-8`);
  assert.equal(parsed.mediaType, MEDIA_TYPES.ociManifest);
});

test('refuses schema 1, bad digests and unknown layer types', () => {
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1}')), /schema 1/);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { size: 1, digest: 'md5:x' }, layers: [] }))), ManifestError);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest, config: { size: 1, digest: D1 }, layers: [{ mediaType: 'text/plain', size: 1, digest: D2 }],
  }))), /unsupported layer media type/);
  assert.throws(() => parseManifest(Buffer.from('nope')), /not JSON/);
});

test('a manifest list resolves to the wanted platform, preferring the default variant', () => {
  const list = parseManifest(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex,
    manifests: [
      { mediaType: MEDIA_TYPES.ociManifest, size: 1, digest: D1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
      { mediaType: MEDIA_TYPES.ociManifest, size: 1, digest: D2, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { mediaType: MEDIA_TYPES.ociManifest, size: 1, digest: D3, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  })));
  assert.equal(list.kind, 'list');
  if (list.kind !== 'list') return;
  assert.equal(selectPlatform(list.manifests, { os: 'linux', architecture: 'amd64' })?.digest, D3);
  assert.equal(selectPlatform(list.manifests, { os: 'linux', architecture: 'arm' })?.digest, D2);
  assert.equal(selectPlatform(list.manifests, { os: 'linux', architecture: 'arm', variant: 'v6' })?.digest, D1);
  assert.equal(selectPlatform(list.manifests, { os: 'linux', architecture: 's390x' }), undefined);
  assert.equal(selectPlatform(list.manifests, { os: 'windows', architecture: 'amd64' }), undefined);
});

test('push builds a Docker schema 2 manifest indented as Docker does, OCI for zstd layers', () => {
  const docker = buildManifest({ digest: D1, size: 5 }, [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: D2, size: 7 }]);
  assert.equal(docker.mediaType, MEDIA_TYPES.dockerManifest);
  assert.equal(docker.bytes.toString(), `{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 5,
      "digest": "${D1}"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 7,
         "digest": "${D2}"
      }
   ]
}`);
  const oci = buildManifest({ digest: D1, size: 5 }, [{ mediaType: MEDIA_TYPES.ociLayerZstd, digest: D2, size: 7 }]);
  assert.equal(oci.mediaType, MEDIA_TYPES.ociManifest);
  const reparsed = parseManifest(oci.bytes);
  assert.equal(reparsed.kind === 'image' && reparsed.layers[0]?.mediaType, MEDIA_TYPES.ociLayerZstd);
  assert.equal(sha256Digest('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('registry errors are worded like Docker, plain HTTP only for loopback', () => {
  assert.deepEqual(registryErrorMessage(404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}'),
    { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown: manifest unknown' });
  assert.equal(registryErrorMessage(502, '').message, 'received unexpected HTTP status: 502 Bad Gateway');
  assert.equal(isInsecureByDefault('127.0.0.1:5000'), true);
  assert.equal(isInsecureByDefault('127.10.0.3'), true);
  assert.equal(isInsecureByDefault('localhost:5000'), true);
  assert.equal(isInsecureByDefault('[::1]:5000'), true);
  assert.equal(isInsecureByDefault('registry.example.com'), false);
  assert.equal(isInsecureByDefault('128.0.0.1:5000'), false);
});

test('pull references: tag or digest from the tag parameter, latest by default', () => {
  assert.deepEqual(pullReference('127.0.0.1:5000/me/app', 'v1'), { domain: '127.0.0.1:5000', path: 'me/app', tag: 'v1' });
  assert.deepEqual(pullReference('busybox', undefined), { domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
  assert.deepEqual(pullReference('me/app', D1), { domain: 'docker.io', path: 'me/app', digest: D1 });
  assert.throws(() => pullReference('Me/App', 'latest'), /must be lowercase/);
});
