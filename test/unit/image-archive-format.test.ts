// Unit tests for the archive writer's pure pieces: the legacy v1 layer IDs and JSON (checked
// byte for byte against what Docker 20.10's `docker save` wrote for the same configs), the
// manifest.json / repositories / index.json / OCI manifest of a save, and Go-style JSON.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ImageConfigFile } from '../../src/wire/types.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, buildArchiveMetadata, goJson, legacyLayers, type SaveItem } from '../../src/images/archive-format.js';
import { parseReference } from '../../src/images/reference.js';

const sha256 = (text: string | Buffer) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

// What Docker 20.10 wrote: busybox imported with CMD ["sh"], and a child committed from it.
const BUSYBOX_CONFIG = "{\"architecture\":\"amd64\",\"comment\":\"Imported from -\",\"config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"sh\"],\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"container_config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":null,\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"created\":\"2026-11-22T22:37:30.38251552Z\",\"docker_version\":\"20.10.24+dfsg1\",\"history\":[{\"created\":\"2026-11-22T22:37:30.38251552Z\",\"comment\":\"Imported from -\"}],\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:2999f04e2f4644d417c2f8c3343ea0e5120086a41adec837487add906174cd16\"]}}";
const BUSYBOX_ID = 'sha256:5830fc5812173a6e280f870eee5f19de797951f8d31c4c532c36f5dfa56d2d65';
const BUSYBOX_V1_JSON = "{\"id\":\"d7cf1173de215e6c16a9a92ebe5b924d63a298d46652b3b00eb3edaf21b50aeb\",\"comment\":\"Imported from -\",\"created\":\"2026-11-22T22:37:30.38251552Z\",\"container_config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":null,\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"docker_version\":\"20.10.24+dfsg1\",\"config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"sh\"],\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"architecture\":\"amd64\",\"os\":\"linux\"}";
const CHILD_CONFIG = "{\"architecture\":\"amd64\",\"config\":{\"Hostname\":\"03c627d0b243\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"sh\",\"-c\",\"echo layer2 \\u003e /hello; rm /bin/ls\"],\"Image\":\"busybox\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{\"stage\":\"two\"}},\"container\":\"03c627d0b2438a16c8da2c78e5850d09f074ab2d20441ccf74d790644c000a54\",\"container_config\":{\"Hostname\":\"03c627d0b243\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":[\"sh\",\"-c\",\"echo layer2 \\u003e /hello; rm /bin/ls\"],\"Image\":\"busybox\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":{}},\"created\":\"2026-11-22T22:46:59.301270112Z\",\"docker_version\":\"20.10.24+dfsg1\",\"history\":[{\"created\":\"2026-11-22T22:46:27.145Z\",\"comment\":\"Imported from -\"},{\"created\":\"2026-11-22T22:46:59.301270112Z\",\"created_by\":\"sh -c echo layer2 \\u003e /hello; rm /bin/ls\"}],\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:2999f04e2f4644d417c2f8c3343ea0e5120086a41adec837487add906174cd16\",\"sha256:8b56af7c358530755ab7c38c36df24c133dc9bc5f71545b2baf26ec161a4c6a6\"]}}";
const CHILD_ID = 'sha256:604e86ec35fa52823af882b163377408445d86cc8fb23ae8daebf730dfc82b12';
const BASE_DIFF = 'sha256:2999f04e2f4644d417c2f8c3343ea0e5120086a41adec837487add906174cd16';
const CHILD_DIFF = 'sha256:8b56af7c358530755ab7c38c36df24c133dc9bc5f71545b2baf26ec161a4c6a6';

function item(raw: string, tags: string[]): SaveItem {
  return { id: sha256(raw), rawConfig: Buffer.from(raw), config: JSON.parse(raw) as ImageConfigFile, tags: tags.map(parseReference) };
}

describe('legacy v1 layers', () => {
  it('gives the IDs and JSON docker save wrote for a one-layer image', () => {
    assert.equal(sha256(BUSYBOX_CONFIG), BUSYBOX_ID);
    const layers = legacyLayers(JSON.parse(BUSYBOX_CONFIG) as ImageConfigFile);
    assert.equal(layers.length, 1);
    assert.equal(layers[0]!.id, 'sha256:d7cf1173de215e6c16a9a92ebe5b924d63a298d46652b3b00eb3edaf21b50aeb');
    assert.equal(layers[0]!.json, BUSYBOX_V1_JSON);
  });

  it('chains parents and leaves the image fields to the top layer', () => {
    assert.equal(sha256(CHILD_CONFIG), CHILD_ID);
    const layers = legacyLayers(JSON.parse(CHILD_CONFIG) as ImageConfigFile);
    assert.deepEqual(layers.map((layer) => layer.id.slice(7, 19)), ['13c03d0d1e8e', '0b16669a1121']);
    const lower = JSON.parse(layers[0]!.json) as Record<string, unknown>;
    assert.deepEqual(Object.keys(lower), ['id', 'created', 'container_config', 'os']);
    assert.equal(lower.created, '1970-01-01T00:00:00Z');
    const top = JSON.parse(layers[1]!.json) as Record<string, unknown>;
    assert.equal(top.parent, layers[0]!.id.slice(7));
    assert.equal((top.config as { Labels: Record<string, string> }).Labels.stage, 'two');
    // Go escapes ">" in strings; so must the JSON whose digest is the ID.
    assert.match(layers[1]!.json, /echo layer2 \\u003e \/hello/);
  });
});

describe('archive metadata', () => {
  it('writes manifest.json, repositories and the OCI index as Docker 25+ does', () => {
    const metadata = buildArchiveMetadata([item(BUSYBOX_CONFIG, ['busybox:latest', 'me/box:v1'])], new Map([[BASE_DIFF, 2140160]]));
    const hex = BUSYBOX_ID.slice(7);
    const layerHex = BASE_DIFF.slice(7);
    assert.equal(metadata.manifestJson, `[{"Config":"blobs/sha256/${hex}","RepoTags":["busybox:latest","me/box:v1"],"Layers":["blobs/sha256/${layerHex}"],`
      + `"LayerSources":{"${BASE_DIFF}":{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":2140160,"digest":"${BASE_DIFF}"}}}]\n`);
    assert.equal(metadata.repositories, `{"busybox":{"latest":"${layerHex}"},"me/box":{"v1":"${layerHex}"}}\n`);
    const index = JSON.parse(metadata.indexJson) as { schemaVersion: number; mediaType: string; manifests: Array<{ digest: string; size: number; annotations: Record<string, string> }> };
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests.map((entry) => entry.annotations), [
      { [ANNOTATION_IMAGE_NAME]: 'docker.io/library/busybox:latest', [ANNOTATION_REF_NAME]: 'latest' },
      { [ANNOTATION_IMAGE_NAME]: 'docker.io/me/box:v1', [ANNOTATION_REF_NAME]: 'v1' },
    ]);
    const manifestBlob = metadata.blobs.get(index.manifests[0]!.digest.slice(7));
    assert.ok(manifestBlob);
    assert.equal(sha256(manifestBlob.data), index.manifests[0]!.digest);
    assert.equal(manifestBlob.data.length, index.manifests[0]!.size);
    assert.deepEqual(JSON.parse(manifestBlob.data.toString()), {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: BUSYBOX_ID, size: BUSYBOX_CONFIG.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: BASE_DIFF, size: 2140160 }],
    });
    assert.equal(metadata.blobs.get(hex)?.data.toString(), BUSYBOX_CONFIG, 'the config is saved byte for byte');
    assert.ok(metadata.blobs.has('d7cf1173de215e6c16a9a92ebe5b924d63a298d46652b3b00eb3edaf21b50aeb') === false, 'v1 JSON blobs are named by their digest');
    assert.ok(metadata.blobs.has(sha256(BUSYBOX_V1_JSON).slice(7)));
    assert.deepEqual([...metadata.layers.keys()], [layerHex]);
  });

  it('saves an untagged image with RepoTags null, no repositories file and an unnamed index entry', () => {
    const metadata = buildArchiveMetadata([item(BUSYBOX_CONFIG, [])], new Map([[BASE_DIFF, 10]]));
    assert.match(metadata.manifestJson, /"RepoTags":null/);
    assert.equal(metadata.repositories, undefined);
    const index = JSON.parse(metadata.indexJson) as { manifests: Array<Record<string, unknown>> };
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]!.annotations, undefined);
  });

  it('stores a layer two images share once', () => {
    const metadata = buildArchiveMetadata([item(BUSYBOX_CONFIG, ['busybox:latest']), item(CHILD_CONFIG, ['child:v1'])],
      new Map([[BASE_DIFF, 2140160], [CHILD_DIFF, 3072]]));
    assert.deepEqual([...metadata.layers.keys()].sort(), [BASE_DIFF.slice(7), CHILD_DIFF.slice(7)].sort());
    const manifest = JSON.parse(metadata.manifestJson) as Array<{ Layers: string[] }>;
    assert.deepEqual(manifest.map((entry) => entry.Layers.length), [1, 2]);
    assert.equal(manifest[0]!.Layers[0], manifest[1]!.Layers[0]);
  });

  it('refuses an image without layers, as Docker does', () => {
    const empty = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    assert.throws(() => buildArchiveMetadata([item(empty, [])], new Map()), /empty export - not implemented/);
  });
});

describe('Go-style output', () => {
  it('escapes <, > and & like encoding/json', () => {
    assert.equal(goJson({ a: '<x> & y' }), '{"a":"\\u003cx\\u003e \\u0026 y"}');
  });
});
