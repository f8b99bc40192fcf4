// Unit tests for the archive reader: unpacking (symlinks followed inside the archive only,
// hard links, compressed archives, members that try to leave), and planning the images of a
// docker-archive (Docker 20.10's <v1-id>/layer.tar layout with a symlinked duplicate layer)
// and of a hand-written OCI image layout (names from annotations, a multi-platform index,
// digests checked), with Docker's errors for broken archives. No root needed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { memberPath, ociImageName, planArchive, resolveInScope, unpackArchive, type PlannedImage } from '../../src/images/archive-reader.js';
import { familiarString } from '../../src/images/reference.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'berth-archive-parse-'));
let counter = 0;
after(() => rmSync(work, { recursive: true, force: true }));

type Member = { name: string; data?: string | Buffer; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string };

async function tarOf(members: Member[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => { for await (const chunk of pack) chunks.push(chunk as Buffer); })();
  for (const member of members) {
    const type = member.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (type === 'file') pack.entry({ name: member.name, type }, Buffer.from(member.data ?? ''), callback);
      else pack.entry({ name: member.name, type, linkname: member.linkname }, callback);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

async function plan(members: Member[] | Buffer): Promise<PlannedImage[]> {
  const bytes = Buffer.isBuffer(members) ? members : await tarOf(members);
  const files = await unpackArchive(Readable.from([bytes]), join(work, `case-${++counter}`));
  return planArchive(files, AMD64);
}

const layerTar = (file: string, content: string) => tarOf([{ name: file, data: content }]);

function config(diffIds: string[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIds }, ...extra });
}

describe('paths inside an archive', () => {
  it('follows symlinks without ever leaving the archive', () => {
    const links = new Map([['a', '/x'], ['up', '../../..'], ['rel', 'sub/dir'], ['loop', 'loop']]);
    assert.equal(resolveInScope('a/b', links), 'x/b');
    assert.equal(resolveInScope('up/etc/passwd', links), 'etc/passwd');
    assert.equal(resolveInScope('../../etc/passwd', links), 'etc/passwd');
    assert.equal(resolveInScope('./rel/file', links), 'sub/dir/file');
    assert.throws(() => resolveInScope('loop/x', links), /too many levels of symbolic links/);
  });

  it('refuses members whose names leave the archive', () => {
    assert.equal(memberPath('./manifest.json'), 'manifest.json');
    assert.equal(memberPath('/abs/x/'), 'abs/x');
    assert.equal(memberPath('./'), undefined);
    assert.throws(() => memberPath('../evil'), /outside the archive/);
    assert.throws(() => memberPath('a/../../evil'), /outside the archive/);
  });

  it('names OCI images from annotations, a bare ref.name being a tag without a name', () => {
    const name = (annotations: Record<string, string>) => {
      const reference = ociImageName(annotations);
      return reference && familiarString(reference);
    };
    assert.equal(name({ 'io.containerd.image.name': 'docker.io/library/busybox:1.36', 'org.opencontainers.image.ref.name': '1.36' }), 'busybox:1.36');
    assert.equal(name({ 'org.opencontainers.image.ref.name': 'example.com/app:v2' }), 'example.com/app:v2');
    assert.equal(name({ 'org.opencontainers.image.ref.name': 'latest' }), undefined);
    assert.equal(name({ 'io.containerd.image.name': 'me/app' }), 'me/app:latest');
    assert.equal(name({}), undefined);
  });
});

describe('docker-archive', () => {
  it('plans the 1.10-24 layout, with a layer.tar that is a symlink to another', async () => {
    const base = await layerTar('hello', 'base');
    const top = await layerTar('top', 'top');
    const parentConfig = config([sha256(base)]);
    const childConfig = config([sha256(base), sha256(top)], { config: { Cmd: ['top'] } });
    const images = await plan([
      { name: 'aaa/', type: 'directory' },
      { name: 'aaa/VERSION', data: '1.0' },
      { name: 'aaa/layer.tar', data: base },
      { name: 'bbb/', type: 'directory' },
      { name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
      { name: 'ccc/layer.tar', data: top },
      { name: `${sha256(parentConfig).slice(7)}.json`, data: parentConfig },
      { name: `${sha256(childConfig).slice(7)}.json`, data: childConfig },
      { name: 'manifest.json', data: JSON.stringify([
        { Config: `${sha256(parentConfig).slice(7)}.json`, RepoTags: ['busybox:latest'], Layers: ['aaa/layer.tar'] },
        { Config: `${sha256(childConfig).slice(7)}.json`, RepoTags: ['child:v1', 'localhost:5000/child:v2'], Layers: ['bbb/layer.tar', 'ccc/layer.tar'], Parent: sha256(parentConfig) },
      ]) },
    ]);
    assert.equal(images.length, 2);
    assert.equal(images[0]!.id, sha256(parentConfig));
    assert.equal(images[1]!.id, sha256(childConfig));
    assert.deepEqual(images[1]!.tags.map(familiarString), ['child:v1', 'localhost:5000/child:v2']);
    assert.deepEqual(images[1]!.layers, [{ path: 'bbb/layer.tar' }, { path: 'ccc/layer.tar' }]);
    assert.equal(images[1]!.rawConfig.toString(), childConfig, 'the config bytes are kept as they are');
  });

  it('reads a compressed archive and the blobs layout with hard links', async () => {
    const layer = await layerTar('f', 'x');
    const imageConfig = config([sha256(layer)]);
    const archive = await tarOf([
      { name: `blobs/sha256/${sha256(layer).slice(7)}`, data: layer },
      { name: 'blobs/sha256/copy', type: 'link', linkname: `blobs/sha256/${sha256(layer).slice(7)}` },
      { name: `blobs/sha256/${sha256(imageConfig).slice(7)}`, data: imageConfig },
      { name: 'manifest.json', data: JSON.stringify([{ Config: `blobs/sha256/${sha256(imageConfig).slice(7)}`, RepoTags: null, Layers: ['blobs/sha256/copy'] }]) },
    ]);
    const files = await unpackArchive(Readable.from([gzipSync(archive)]), join(work, `case-${++counter}`));
    const images = await planArchive(files, AMD64);
    assert.equal(images.length, 1);
    assert.deepEqual(images[0]!.tags, []);
    assert.equal(sha256(await files.read('blobs/sha256/copy')), sha256(layer));
  });

  it('fails as Docker does on broken archives', async () => {
    const layer = await layerTar('f', 'x');
    const good = config([sha256(layer)]);
    const manifest = (entries: unknown) => ({ name: 'manifest.json', data: JSON.stringify(entries) });
    await assert.rejects(plan([{ name: 'hello.txt', data: 'hi' }]), /invalid archive: does not contain a manifest.json/);
    await assert.rejects(plan([{ name: 'manifest.json', data: 'null' }]), /invalid manifest, manifest cannot be null/);
    await assert.rejects(plan([{ name: 'manifest.json', data: '{oops' }]), /invalid archive: failed to decode manifest.json/);
    await assert.rejects(plan([{ name: 'c.json', data: good }, manifest([{ Config: 'c.json', RepoTags: [], Layers: [] }])]),
      /invalid manifest, layers length mismatch: expected 0, got 1/);
    await assert.rejects(plan([{ name: 'c.json', data: good }, manifest([{ Config: 'c.json', RepoTags: ['busybox@sha256:' + 'a'.repeat(64)], Layers: ['l'] }])]),
      /invalid tag "busybox@sha256:a+"/);
    await assert.rejects(plan([{ name: 'c.json', data: config([sha256(layer)], { os: 'windows' }) }, manifest([{ Config: 'c.json', Layers: ['l'] }])]),
      /cannot load windows image on linux/);
    await assert.rejects(plan([{ name: 'c.json', data: '{"os":"linux"}' }, manifest([{ Config: 'c.json', Layers: [] }])]), /no RootFS key/);
    await assert.rejects(plan([manifest([{ Config: 'missing.json', Layers: [] }])]), /missing.json not found/);
    await assert.rejects(plan([{ name: '../evil', data: 'x' }]), /outside the archive/);
    await assert.rejects(plan(Buffer.from('this is not a tar archive at all, just some text\n'.repeat(20))), /invalid archive/);
  });
});

describe('OCI image layout', () => {
  async function ociArchive(options: { indexAnnotations?: Record<string, string>; corruptConfig?: boolean } = {}) {
    const plainLayer = await layerTar('etc/os-release', 'ID=test\n');
    const layer = gzipSync(plainLayer);
    const imageConfig = config([sha256(plainLayer)]);
    const manifest = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(imageConfig), size: imageConfig.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    });
    const armManifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'x', digest: sha256('none'), size: 4 }, layers: [] });
    const nested = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(armManifest), size: armManifest.length, platform: { os: 'linux', architecture: 'arm64' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    });
    const index = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(nested), size: nested.length, annotations: options.indexAnnotations ?? {} },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'example.com/app:direct' } },
      ],
    });
    const blob = (data: string | Buffer) => ({ name: `blobs/sha256/${sha256(data).slice(7)}`, data });
    return {
      members: [
        { name: 'oci-layout', data: '{"imageLayoutVersion": "1.0.0"}' },
        blob(layer), blob(manifest), blob(armManifest), blob(nested),
        options.corruptConfig ? { name: `blobs/sha256/${sha256(imageConfig).slice(7)}`, data: imageConfig.replace('sh', 'zz') } : blob(imageConfig),
        { name: 'index.json', data: index },
      ] as Member[],
      imageConfig, layer,
    };
  }

  it('plans the host platform of a multi-platform index, names from annotations, blobs to verify', async () => {
    const { members, imageConfig, layer } = await ociArchive({ indexAnnotations: { 'io.containerd.image.name': 'docker.io/library/app:1.0', 'org.opencontainers.image.ref.name': '1.0' } });
    const images = await plan(members);
    assert.equal(images.length, 1, 'both index entries lead to the same manifest: one image');
    assert.equal(images[0]!.id, sha256(imageConfig));
    assert.deepEqual(images[0]!.tags.map(familiarString), ['app:1.0', 'example.com/app:direct']);
    assert.deepEqual(images[0]!.layers, [{ path: `blobs/sha256/${sha256(layer).slice(7)}`, blobDigest: sha256(layer) }]);
  });

  it('leaves an image whose only name is a bare tag unnamed', async () => {
    const { members } = await ociArchive({ indexAnnotations: { 'org.opencontainers.image.ref.name': 'latest' } });
    const images = await plan(members.map((member) => (member.name === 'index.json'
      ? { ...member, data: JSON.stringify({ ...JSON.parse(String(member.data)), manifests: [JSON.parse(String(member.data)).manifests[0]] }) }
      : member)));
    assert.equal(images.length, 1);
    assert.deepEqual(images[0]!.tags, []);
  });

  it('refuses a config whose content does not match its digest', async () => {
    const { members } = await ociArchive({ corruptConfig: true });
    await assert.rejects(plan(members), /invalid archive: config sha256:[0-9a-f]+ does not match its content/);
  });
});
