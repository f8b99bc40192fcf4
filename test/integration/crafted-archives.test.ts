// Crafted tars on every path that unpacks one: image import (a layer unpacked by GNU tar),
// image load (the outer archive, then each layer) and cp into a container (PUT
// /containers/{id}/archive). Each case aims at a sentinel folder on the host: an entry named
// "../../..", a symlink that climbs out with a file written through it, a hard link to a
// file outside, and absolute names. Refused cases answer moby's words and store nothing (the
// data root's stores as they were, no file of the archive in the container); in no case does
// anything appear in, or change, the sentinel folder. Absolute names are taken from the
// target's root, as Docker takes them: they land inside, never outside.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tarStream from 'tar-stream';
import { useDaemon, dataRootState } from './harness.js';

const daemon = useDaemon();
const outside = mkdtempSync('/tmp/berth-crafted-outside-');
const sentinel = join(outside, 'sentinel');
/** A relative path from anywhere under /tmp/berth-test-*'s data root up to the host's root. */
const UP = '../'.repeat(24);
writeFileSync(sentinel, 'untouched');
let created: string | undefined;

/** A created (never started) container to copy into, made on first use. */
async function container(): Promise<string> {
  created ??= (await daemon.berthOk(['create', '--network', 'none', 'busybox', 'true'])).trim();
  return created;
}

after(() => rmSync(outside, { recursive: true, force: true }));

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; data?: string | Buffer };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => { for await (const chunk of pack) chunks.push(chunk as Buffer); })();
  for (const { name, type = 'file', linkname, data = '' } of entries) {
    const body = Buffer.from(data);
    await new Promise<void>((resolve, reject) => pack.entry(
      { name, type, linkname, size: type === 'file' ? body.length : 0, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0 },
      type === 'file' ? body : Buffer.alloc(0), (error) => (error ? reject(error) : resolve()),
    ));
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** A docker-archive of one image whose one layer is `layer`. */
async function dockerArchive(layer: Buffer, tag: string, extra: Entry[] = []): Promise<Buffer> {
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } });
  return tarOf([
    { name: 'config.json', data: config },
    { name: 'layer/layer.tar', data: layer },
    { name: 'manifest.json', data: JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['layer/layer.tar'] }]) },
    ...extra,
  ]);
}

/** The crafted layers: what each case puts in a tar. */
const CASES: Record<string, { entries: Entry[]; refused: RegExp | undefined }> = {
  'an entry named ../': {
    entries: [{ name: 'ok.txt', data: 'fine' }, { name: `${UP}${outside.slice(1)}/escaped`, data: 'escaped' }],
    refused: /is outside of/,
  },
  'a symlink that climbs out, and a file written through it': {
    entries: [{ name: 'ok.txt', data: 'fine' }, { name: 'escape', type: 'symlink', linkname: `${UP}${outside.slice(1)}` }, { name: 'escape/escaped', data: 'escaped' }],
    refused: /invalid symlink/,
  },
  'a hard link to a file outside': {
    entries: [{ name: 'ok.txt', data: 'fine' }, { name: 'hard', type: 'link', linkname: `${UP}${outside.slice(1)}/sentinel` }],
    refused: /invalid hardlink/,
  },
  'an absolute name': {
    entries: [{ name: 'ok.txt', data: 'fine' }, { name: `${outside}/escaped`, data: 'escaped' }],
    refused: undefined,
  },
  'an absolute symlink, and a file written through it': {
    entries: [{ name: 'ok.txt', data: 'fine' }, { name: 'abs', type: 'symlink', linkname: outside }, { name: 'abs/escaped', data: 'escaped' }],
    refused: undefined,
  },
  'a hard link to an absolute path': {
    entries: [{ name: 'ok.txt', data: 'fine' }, { name: 'hard', type: 'link', linkname: sentinel }],
    refused: undefined,
  },
};

function assertOutsideUntouched(what: string): void {
  assert.deepEqual(readdirSync(outside), ['sentinel'], `${what}: nothing written beside the sentinel`);
  assert.equal(readFileSync(sentinel, 'utf8'), 'untouched', `${what}: the sentinel is unchanged`);
  assert.equal(statSync(sentinel).nlink, 1, `${what}: no hard link to the sentinel`);
}



/** The message of a failed load: the stream's last message. */
function loadError(body: string): string | undefined {
  const messages = body.split(/\r?\n/).filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as { error?: string });
  return messages.find((message) => message.error !== undefined)?.error;
}

/** Whether a path exists in the container (HEAD /containers/{id}/archive). */
async function inContainer(path: string): Promise<boolean> {
  const response = await daemon.api('HEAD', `/containers/${await container()}/archive?path=${encodeURIComponent(path)}`);
  return response.status === 200;
}

for (const [name, { entries, refused }] of Object.entries(CASES)) {
  test(`import: ${name}`, async () => {
    const before = dataRootState(daemon.dataRoot);
    const response = await daemon.api('POST', `/images/create?fromSrc=-&repo=crafted&tag=import`, await tarOf(entries), { 'Content-Type': 'application/x-tar' });
    assertOutsideUntouched(`import of ${name}`);
    if (refused) {
      assert.equal(response.status, 500, response.body);
      assert.match(response.json().message as string, refused);
      assert.deepEqual(dataRootState(daemon.dataRoot), before);
    } else if (response.status === 200) {
      await daemon.berthOk(['rmi', 'crafted:import']);
    }
  });

  test(`load: ${name} (in a layer)`, async () => {
    const before = dataRootState(daemon.dataRoot);
    const archive = await dockerArchive(await tarOf(entries), 'crafted:load');
    const response = await daemon.api('POST', '/images/load?quiet=1', archive, { 'Content-Type': 'application/x-tar' });
    assert.equal(response.status, 200);
    assertOutsideUntouched(`load of ${name}`);
    const error = loadError(response.body);
    if (refused) {
      assert.match(error ?? '', refused, response.body);
      assert.deepEqual(dataRootState(daemon.dataRoot), before);
    } else if (error === undefined) {
      await daemon.berthOk(['rmi', 'crafted:load']);
    }
  });

  test(`cp into a container: ${name}`, async () => {
    const dest = `/tmp/${name.replace(/[^a-z]+/g, '-')}`;
    const made = await daemon.api('PUT', `/containers/${await container()}/archive?path=/tmp`, await tarOf([{ name: dest.slice('/tmp/'.length), type: 'directory' }]), { 'Content-Type': 'application/x-tar' });
    assert.equal(made.status, 200, made.body);
    const response = await daemon.api('PUT', `/containers/${await container()}/archive?path=${encodeURIComponent(dest)}`, await tarOf(entries), { 'Content-Type': 'application/x-tar' });
    assertOutsideUntouched(`cp of ${name}`);
    if (refused) {
      assert.ok(response.status >= 400, `${response.status} ${response.body}`);
      assert.match(response.json().message as string, refused);
      assert.equal(await inContainer(`${dest}/ok.txt`), false, 'no entry of a refused archive is written, not even those before the bad one');
    } else if (name === 'an absolute name') {
      assert.equal(response.status, 200, response.body);
      assert.ok(await inContainer(`${dest}${outside}/escaped`), 'the absolute name is taken from the target');
    } else {
      // The link leads to a path the container lacks: refused as moby refuses it, for want of the file.
      assert.match(response.json().message as string, /Could not find the file/);
    }
  });
}

test('load: an archive whose own entries reach outside (../, a hard link out) is refused and stores nothing', async () => {
  const layer = await tarOf([{ name: 'ok.txt', data: 'fine' }]);
  const before = dataRootState(daemon.dataRoot);
  for (const extra of [
    [{ name: `${UP}${outside.slice(1)}/escaped`, data: 'escaped' }],
    [{ name: 'hard', type: 'link' as const, linkname: `${UP}${outside.slice(1)}/sentinel` }],
  ]) {
    const response = await daemon.api('POST', '/images/load?quiet=1', await dockerArchive(layer, 'crafted:outer', extra), { 'Content-Type': 'application/x-tar' });
    assert.match(loadError(response.body) ?? '', /invalid archive: .* points outside the archive/, response.body);
    assertOutsideUntouched(`outer ${extra[0]!.name}`);
    assert.deepEqual(dataRootState(daemon.dataRoot), before);
  }
});

test('load: a symlink of the archive that climbs out is followed inside the archive only', async () => {
  const layer = await tarOf([{ name: 'ok.txt', data: 'fine' }]);
  const archive = await dockerArchive(layer, 'crafted:outer-symlink', [
    { name: 'escape', type: 'symlink', linkname: `${UP}${outside.slice(1)}` },
    { name: 'escape/escaped', data: 'escaped' },
  ]);
  const response = await daemon.api('POST', '/images/load?quiet=1', archive, { 'Content-Type': 'application/x-tar' });
  assertOutsideUntouched('outer symlink');
  assert.equal(loadError(response.body), undefined, response.body);
  await daemon.berthOk(['rmi', 'crafted:outer-symlink']);
});
