// Integration tests for the content store, the layer store (real tarballs made with GNU tar,
// whiteouts, overlay mounts) and the image store. Runs as root; everything lives in a temp
// directory that is unmounted and removed at the end, also after a failure.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, link, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EngineError } from '../../src/errdefs/errors.js';
import type { EventType } from '../../src/events/bus.js';
import { ContentStore } from '../../src/content/store.js';
import { ImageStore } from '../../src/images/store.js';
import { chainIdOf, LayerStore } from '../../src/layers/store.js';
import { isMounted, mountOverlay, unmount } from '../../src/layers/overlay.js';

let base = '';
const mounts: string[] = [];

const sha256File = (path: string) => `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
const tarOf = (dir: string, out: string, flags: string[] = []) =>
  execFileSync('tar', ['--numeric-owner', ...flags, '-C', dir, '-cf', out, '.']);

async function makeFixtures(): Promise<void> {
  const rootfs = join(base, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await mkdir(join(rootfs, 'sub/deep'), { recursive: true });
  await mkdir(join(rootfs, 'opaque'), { recursive: true });
  await writeFile(join(rootfs, 'bin/hello'), '#!/bin/sh\necho hello\n');
  await chmod(join(rootfs, 'bin/hello'), 0o755);
  await link(join(rootfs, 'bin/hello'), join(rootfs, 'bin/hello-hard'));
  await writeFile(join(rootfs, 'etc/hostname'), 'box\n');
  await writeFile(join(rootfs, 'etc/remove-me'), 'gone soon\n');
  await symlink('../etc/hostname', join(rootfs, 'sub/link'));
  await writeFile(join(rootfs, 'sub/deep/file'), 'x'.repeat(1000));
  await writeFile(join(rootfs, 'opaque/old1'), 'old');
  await writeFile(join(rootfs, 'opaque/old2'), 'old');
  const longName = 'n'.repeat(150);
  await writeFile(join(rootfs, 'sub', longName), 'long');
  tarOf(rootfs, join(base, 'layer1.tar'));
  execFileSync('sh', ['-c', `gzip -c layer1.tar > layer1.tar.gz && xz -c layer1.tar > layer1.tar.xz && bzip2 -c layer1.tar > layer1.tar.bz2`], { cwd: base });

  const upper = join(base, 'layer2');
  await mkdir(join(upper, 'etc'), { recursive: true });
  await mkdir(join(upper, 'opaque'), { recursive: true });
  await writeFile(join(upper, 'etc/.wh.remove-me'), '');
  await writeFile(join(upper, 'opaque/.wh..wh..opq'), '');
  await writeFile(join(upper, 'opaque/new'), 'new');
  await writeFile(join(upper, 'etc/added'), 'added');
  tarOf(upper, join(base, 'layer2.tar'));
}

function collectEvents() {
  const events: Array<{ type: EventType; action: string; id: string; attributes: Record<string, string> }> = [];
  const publish = (type: EventType, action: string, id: string, attributes: Record<string, string> = {}) => {
    events.push({ type, action, id, attributes });
  };
  return { events, publish };
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'berth-images-'));
  await makeFixtures();
});

after(async () => {
  for (const target of mounts.reverse()) await unmount(target).catch(() => undefined);
  if (base) await rm(base, { recursive: true, force: true });
});

describe('ContentStore', () => {
  it('ingests, verifies, reads, lists and deletes blobs', async () => {
    const store = new ContentStore(join(base, 'content'));
    await store.init();
    const data = Buffer.from('{"hello":"world"}');
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    assert.deepEqual(await store.ingest(data), { digest, size: data.length });
    assert.equal(await store.has(digest), true);
    assert.deepEqual(await store.readBuffer(digest), data);
    assert.deepEqual(await store.list(), [digest]);

    const streamed = await store.ingest(createReadStream(join(base, 'layer1.tar')), sha256File(join(base, 'layer1.tar')));
    assert.equal(streamed.digest, sha256File(join(base, 'layer1.tar')));

    await assert.rejects(store.ingest(Buffer.from('other'), digest), /digest mismatch/);
    const failing = new Readable({ read() { this.push(Buffer.from('partial')); this.destroy(new Error('boom')); } });
    await assert.rejects(store.ingest(failing), /boom/);
    assert.deepEqual(readdirSync(join(base, 'content/ingest')), []);

    await store.delete(digest);
    assert.equal(await store.has(digest), false);
  });
});

describe('LayerStore', () => {
  const root = () => join(base, 'layers-test');
  let layers: LayerStore;
  before(async () => {
    layers = new LayerStore(root());
    await layers.init();
  });

  it('applies a plain tar: content, diff ID, chain ID, size, links', async () => {
    const layer = await layers.apply(null, createReadStream(join(base, 'layer1.tar')));
    assert.equal(layer.diffId, sha256File(join(base, 'layer1.tar')));
    assert.equal(layer.chainId, layer.diffId);
    assert.equal(layer.parent, null);
    const diff = layers.diffPath(layer.chainId);
    assert.equal(readFileSync(join(diff, 'etc/hostname'), 'utf8'), 'box\n');
    assert.equal(statSync(join(diff, 'bin/hello')).mode & 0o777, 0o755);
    assert.equal(statSync(join(diff, 'bin/hello')).ino, statSync(join(diff, 'bin/hello-hard')).ino);
    assert.equal(readlinkSync(join(diff, 'sub/link')), '../etc/hostname');
    assert.equal(readFileSync(join(diff, 'sub', 'n'.repeat(150)), 'utf8'), 'long');
    // Regular files, the hard link not counted twice, the symlink as its target's length (as Docker counts).
    const expectedSize = 21 + 4 + 10 + 1000 + 3 + 3 + 4 + '../etc/hostname'.length;
    assert.equal(layer.size, expectedSize);
    const meta = JSON.parse(readFileSync(join(root(), layer.chainId.slice(7), 'meta.json'), 'utf8'));
    assert.deepEqual(meta, layer);
    assert.equal(readlinkSync(join(root(), 'l', layer.shortId)), `../${layer.chainId.slice(7)}/diff`);
    assert.deepEqual(layers.lowerDirs(layer.chainId), [`l/${layer.shortId}`]);
  });

  for (const suffix of ['gz', 'xz', 'bz2']) {
    it(`applies the same tar compressed (${suffix}) as the same layer`, async () => {
      const before = readdirSync(root()).sort();
      const first = layers.list()[0]!;
      const again = await layers.apply(null, createReadStream(join(base, `layer1.tar.${suffix}`)));
      assert.deepEqual(again, first);
      assert.deepEqual(readdirSync(root()).sort(), before);
      assert.deepEqual(readdirSync(join(root(), 'tmp')), []);
    });
  }

  it('turns AUFS whiteouts into overlay whiteouts and mounts the stack', async () => {
    const bottom = layers.list()[0]!;
    const top = await layers.apply(bottom.chainId, createReadStream(join(base, 'layer2.tar')));
    assert.equal(top.parent, bottom.chainId);
    assert.equal(top.chainId, chainIdOf(bottom.chainId, sha256File(join(base, 'layer2.tar'))));
    const diff = layers.diffPath(top.chainId);
    const whiteout = lstatSync(join(diff, 'etc/remove-me'));
    assert.ok(whiteout.isCharacterDevice());
    assert.equal(whiteout.rdev, 0);
    assert.equal(existsSync(join(diff, 'etc/.wh.remove-me')), false);
    assert.equal(existsSync(join(diff, 'opaque/.wh..wh..opq')), false);
    assert.equal(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', join(diff, 'opaque')]).toString(), 'y');
    assert.deepEqual(layers.lowerDirs(top.chainId), [`l/${top.shortId}`, `l/${bottom.shortId}`]);

    const container = join(base, 'container');
    const merged = join(container, 'merged');
    await mountOverlay({
      layersRoot: layers.root, lowerDirs: layers.lowerDirs(top.chainId),
      upper: join(container, 'upper'), work: join(container, 'work'), target: merged,
    });
    mounts.push(merged);
    assert.equal(await isMounted(merged), true);
    assert.equal(existsSync(join(merged, 'etc/remove-me')), false);
    assert.equal(readFileSync(join(merged, 'etc/hostname'), 'utf8'), 'box\n');
    assert.equal(readFileSync(join(merged, 'etc/added'), 'utf8'), 'added');
    assert.deepEqual(readdirSync(join(merged, 'opaque')), ['new']);
    await writeFile(join(merged, 'written'), 'rw');
    assert.equal(readFileSync(join(container, 'upper/written'), 'utf8'), 'rw');
    await unmount(merged);
    assert.equal(await isMounted(merged), false);
    await unmount(merged); // not mounted: fine

    const readonly = join(base, 'readonly');
    await mountOverlay({ layersRoot: layers.root, lowerDirs: [`l/${bottom.shortId}`], target: readonly, readonly: true });
    mounts.push(readonly);
    assert.equal(readFileSync(join(readonly, 'etc/remove-me'), 'utf8'), 'gone soon\n');
    await unmount(readonly);

    await assert.rejects(layers.remove(bottom.chainId), /parent/);
  });

  it('applies a large tar under backpressure (both consumers drain)', { timeout: 120_000 }, async () => {
    const big = join(base, 'big');
    await mkdir(join(big, 'many'), { recursive: true });
    for (let i = 0; i < 400; i++) await writeFile(join(big, 'many', `f${i}`), Buffer.alloc(5000, i));
    await writeFile(join(big, 'large'), Buffer.alloc(24 * 1024 * 1024, 1));
    tarOf(big, join(base, 'big.tar'));
    const layer = await layers.apply(null, createReadStream(join(base, 'big.tar')));
    assert.equal(layer.diffId, sha256File(join(base, 'big.tar')));
    assert.equal(layer.size, 400 * 5000 + 24 * 1024 * 1024);
    assert.equal(readdirSync(join(layers.diffPath(layer.chainId), 'many')).length, 400);
    await layers.remove(layer.chainId);
  });

  it('leaves nothing behind when the stream fails halfway', async () => {
    const before = readdirSync(root()).sort();
    const data = readFileSync(join(base, 'layer1.tar'));
    const failing = new PassThrough();
    failing.write(data.subarray(0, 3000));
    setTimeout(() => failing.destroy(new Error('connection reset')), 50);
    await assert.rejects(layers.apply(null, failing), /connection reset/);

    const gz = readFileSync(join(base, 'layer1.tar.gz'));
    await assert.rejects(layers.apply(null, Readable.from([gz.subarray(0, gz.length - 40)])));
    await assert.rejects(layers.apply(null, Readable.from([Buffer.alloc(700, 7)])));
    assert.deepEqual(readdirSync(root()).sort(), before);
    assert.deepEqual(readdirSync(join(root(), 'tmp')), []);
  });

  it('reloads from disk and removes layers top first', async () => {
    const reloaded = new LayerStore(root());
    await reloaded.init();
    assert.equal(reloaded.list().length, 2);
    const top = reloaded.list().find((layer) => layer.parent !== null)!;
    await reloaded.remove(top.chainId);
    await reloaded.remove(top.parent!);
    assert.deepEqual(reloaded.list(), []);
    assert.deepEqual(readdirSync(join(root(), 'l')), []);
    assert.deepEqual(readdirSync(root()).sort(), ['empty', 'l', 'tmp']);
  });
});

describe('ImageStore', () => {
  const dataRoot = () => join(base, 'data');
  let content: ContentStore;
  let layers: LayerStore;
  let images: ImageStore;
  const users = new Map<string, Array<{ id: string; running: boolean }>>();
  const recorder = collectEvents();

  async function open(): Promise<ImageStore> {
    content = new ContentStore(join(dataRoot(), 'content'));
    layers = new LayerStore(join(dataRoot(), 'layers'));
    const store = new ImageStore({
      dataRoot: dataRoot(), content, layers, publish: recorder.publish,
      containersUsing: (id) => users.get(id) ?? [],
    });
    await content.init();
    await layers.init();
    await store.init();
    return store;
  }

  before(async () => { images = await open(); });

  it('imports a rootfs with a tag and changes', async () => {
    const record = await images.importRootfs(createReadStream(join(base, 'layer1.tar.gz')), {
      repo: 'busybox', changes: ['CMD ["sh"]', 'ENV A=1', 'LABEL team=core'],
    });
    assert.match(record.id, /^sha256:[a-f0-9]{64}$/);
    assert.deepEqual(record.repoTags, ['busybox:latest']);
    assert.equal(record.config.os, 'linux');
    assert.equal(record.config.architecture, process.arch === 'x64' ? 'amd64' : record.config.architecture);
    assert.deepEqual(record.config.rootfs.diff_ids, [sha256File(join(base, 'layer1.tar'))]);
    assert.deepEqual(record.config.config?.Cmd, ['sh']);
    assert.deepEqual(record.config.config?.Env, ['A=1']);
    assert.equal(record.config.history?.[0]?.comment, 'Imported from -');
    assert.equal(sha256File(content.path(record.id)), record.id);
    assert.deepEqual(recorder.events.map((event) => [event.action, event.id, event.attributes.name]), [
      ['tag', record.id, 'busybox:latest'], ['import', record.id, record.id],
    ]);
    assert.equal(recorder.events[0]!.attributes.team, 'core');

    const inspect = images.inspect(record);
    assert.equal(inspect.Id, record.id);
    assert.equal(inspect.Comment, 'Imported from -');
    assert.equal(inspect.Size, layers.list()[0]!.size);
    assert.deepEqual(inspect.RootFS, { Type: 'layers', Layers: record.config.rootfs.diff_ids });
    assert.equal(inspect.GraphDriver.Name, 'overlay2');
    assert.notEqual(inspect.Metadata.LastTagTime, '0001-01-01T00:00:00Z');
    const history = images.history(record);
    assert.equal(history.length, 1);
    assert.equal(history[0]!.Id, record.id);
    assert.deepEqual(history[0]!.Tags, ['busybox:latest']);
    assert.equal(history[0]!.Size, inspect.Size);
    const summary = images.summary(record, 0);
    assert.deepEqual(summary.Labels, { team: 'core' });
    assert.equal(summary.Containers, 0);
  });

  it('resolves by name, full ID, sha256 prefix and short prefix', () => {
    const record = images.resolve('busybox')!;
    const hex = record.id.slice(7);
    for (const ref of ['busybox:latest', 'docker.io/library/busybox', record.id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 5)}`, hex[0]!]) {
      assert.equal(images.resolve(ref)?.id, record.id, ref);
    }
    assert.equal(images.resolve('nope'), undefined);
    assert.throws(() => images.get('nope'), { message: 'No such image: nope:latest' });
    assert.throws(() => images.get('Nope'), (error: unknown) => error instanceof EngineError && error.kind === 'invalid-parameter');
  });

  it('tags with validation', async () => {
    await images.tag('busybox', '127.0.0.1:5000/me/app', 'v1');
    await images.tag('busybox:latest', 'other');
    assert.deepEqual(images.resolve('busybox')!.repoTags, ['127.0.0.1:5000/me/app:v1', 'busybox:latest', 'other:latest']);
    await assert.rejects(images.tag('busybox', 'Bad'), { kind: 'invalid-parameter', message: 'invalid reference format: repository name (library/Bad) must be lowercase' });
    await assert.rejects(images.tag('busybox', 'x', '-bad'), { kind: 'invalid-parameter', message: 'invalid tag format' });
    await assert.rejects(images.tag('nothing', 'x'), { kind: 'not-found', message: 'No such image: nothing:latest' });
  });

  it('refuses deletes as Docker does', async () => {
    const record = images.resolve('busybox')!;
    const short = record.id.slice(7, 19);
    await assert.rejects(images.remove(short, { force: false, noPrune: false }), {
      kind: 'conflict', message: `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
    });
    users.set(record.id, [{ id: 'c'.repeat(64), running: true }]);
    await assert.rejects(images.remove(short, { force: true, noPrune: false }), {
      kind: 'conflict', message: `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container cccccccccccc`,
    });
    users.set(record.id, [{ id: 'd'.repeat(64), running: false }]);
    // Untagging works while other tags remain.
    assert.deepEqual(await images.remove('other', { force: false, noPrune: false }), [{ Untagged: 'other:latest' }]);
    assert.deepEqual(await images.remove('127.0.0.1:5000/me/app:v1', { force: false, noPrune: false }), [{ Untagged: '127.0.0.1:5000/me/app:v1' }]);
    await assert.rejects(images.remove('busybox', { force: false, noPrune: false }), {
      kind: 'conflict', message: `conflict: unable to remove repository reference "busybox" (must force) - container dddddddddddd is using its referenced image ${short}`,
    });
    await images.tag('busybox', 'busybox', 'keep');
    await images.remove('busybox:keep', { force: false, noPrune: false });
    await assert.rejects(images.remove(short, { force: false, noPrune: false }), {
      kind: 'conflict', message: `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container dddddddddddd`,
    });
    users.delete(record.id);
  });

  it('imports the same tar twice into one layer and deletes layers no image uses', async () => {
    const first = images.resolve('busybox')!;
    const second = await images.importRootfs(createReadStream(join(base, 'layer1.tar')), { repo: 'copy', tag: 'v2', message: 'again' });
    assert.notEqual(second.id, first.id);
    assert.equal(second.topChainId, first.topChainId);
    assert.equal(second.config.comment, 'again');
    assert.equal(layers.list().length, 1);

    recorder.events.length = 0;
    const removedFirst = await images.remove('busybox', { force: false, noPrune: false });
    assert.deepEqual(removedFirst, [{ Untagged: 'busybox:latest' }, { Deleted: first.id }]);
    assert.deepEqual(recorder.events.map((event) => event.action), ['untag', 'delete']);
    assert.equal(layers.list().length, 1);
    assert.equal(await content.has(first.id), false);

    // A fresh store reads the same state from disk.
    images = await open();
    assert.deepEqual(images.list().map((record) => record.repoTags), [['copy:v2']]);
    assert.equal(images.resolve('copy:v2')!.lastTagTime, second.lastTagTime);

    const removedSecond = await images.remove(second.id.slice(7, 15), { force: false, noPrune: false });
    assert.deepEqual(removedSecond, [{ Untagged: 'copy:v2' }, { Deleted: second.id }, { Deleted: second.topChainId! }]);
    assert.deepEqual(layers.list(), []);
    assert.deepEqual(images.list(), []);
    assert.deepEqual(JSON.parse(readFileSync(join(dataRoot(), 'images/repositories.json'), 'utf8')), { Repositories: {} });
  });

  it('keeps nothing of a failed import', async () => {
    const failing = new PassThrough();
    failing.write(readFileSync(join(base, 'layer1.tar')).subarray(0, 2048));
    setTimeout(() => failing.destroy(new Error('client went away')), 20);
    await assert.rejects(images.importRootfs(failing, { repo: 'broken' }), /client went away/);
    assert.deepEqual(images.list(), []);
    assert.deepEqual(layers.list(), []);
    await assert.rejects(images.importRootfs(Readable.from([Buffer.alloc(10)]), { repo: 'x', changes: ['RUN x'] }), {
      kind: 'invalid-parameter', message: 'run is not a valid change command',
    });
  });
});

describe('layer leases', () => {
  const dataRoot = () => join(base, 'lease-data');

  it('a leased layer survives layer removal, rmi, layer pruning; an image missing a layer is not listed after a restart', async () => {
    const content = new ContentStore(join(dataRoot(), 'content'));
    const layers = new LayerStore(join(dataRoot(), 'layers'));
    const images = new ImageStore({ dataRoot: dataRoot(), content, layers, publish: () => undefined, containersUsing: () => [] });
    await content.init();
    await layers.init();
    await images.init();
    const record = await images.importRootfs(createReadStream(join(base, 'layer1.tar')), { repo: 'leased' });
    const chainId = record.topChainId!;

    // A pull or load that uses this layer holds a lease: rmi, prune and a direct removal leave it.
    const lease = layers.leases.acquire([chainId]);
    await assert.rejects(layers.remove(chainId), /in use by a pull, load or import/);
    const removed = await images.remove('leased', { force: false, noPrune: false });
    assert.deepEqual(removed, [{ Untagged: 'leased:latest' }, { Deleted: record.id }], 'the image goes, its leased layer stays');
    assert.deepEqual(await images.pruneLayers(), []);
    assert.ok(layers.get(chainId));
    lease.release();
    assert.deepEqual(await images.pruneLayers(), [chainId], 'once released, an unused layer goes');

    // An image record whose layer is gone (a crash between the two) is dropped at start.
    const again = await images.importRootfs(createReadStream(join(base, 'layer1.tar')), { repo: 'partial' });
    await layers.remove(again.topChainId!);
    await images.init();
    assert.equal(images.resolve('partial'), undefined);
    assert.deepEqual(images.list(), []);
  });
});
