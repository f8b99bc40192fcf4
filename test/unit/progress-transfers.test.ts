// The daemon's side of pull/push progress: Docker's message shapes, the rate-limited byte
// counter (progressreader), transfers shared between watchers with their slots and "Waiting",
// and the parsing of a pull's --platform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteProgress, bytesMessage, statusMessage, updateMessage, type ProgressMessage } from '../../src/wire/progress.js';
import { TransferManager, unlessAborted, type TransferContext } from '../../src/distribution/transfers.js';
import { parsePlatform, PlatformError } from '../../src/images/platform.js';

test('message shapes: status lines, per-id states, byte counts without zero fields', () => {
  assert.deepEqual(statusMessage('Digest: sha256:abc'), { status: 'Digest: sha256:abc' });
  assert.deepEqual(statusMessage('Pulling from me/app', 'v1'), { status: 'Pulling from me/app', id: 'v1' });
  assert.deepEqual(updateMessage('0123456789ab', 'Pull complete'), { status: 'Pull complete', progressDetail: {}, id: '0123456789ab' });
  assert.equal(JSON.stringify(bytesMessage('0123456789ab', 'Downloading', 32768, 3146835)),
    '{"status":"Downloading","progressDetail":{"current":32768,"total":3146835},"progress":"[>                                                  ]  32.77kB/3.147MB","id":"0123456789ab"}');
  assert.deepEqual(bytesMessage('x', 'Pushing', 0, 10), { status: 'Pushing', progressDetail: { total: 10 }, progress: `[>${' '.repeat(50)}]       0B/10B`, id: 'x' });
});

test('ByteProgress: every 1% (at most 512 KiB), at most every 100 ms, always at the end', () => {
  const sent: ProgressMessage[] = [];
  let now = 1000;
  const meter = new ByteProgress((message) => sent.push(message), 'id', 'Downloading', 100_000, () => now);
  meter.add(500); // below 1% (1000 bytes): nothing
  assert.equal(sent.length, 0);
  meter.add(600); // past 1%: reported
  assert.equal(sent.at(-1)?.progressDetail?.current, 1100);
  meter.add(5000); // 1% more, but within 100 ms: dropped
  assert.equal(sent.length, 1);
  now += 100;
  meter.add(1001);
  assert.equal(sent.length, 2);
  meter.add(100_000 - meter.bytes); // the end is always reported
  assert.equal(sent.length, 3);
  assert.deepEqual(sent.at(-1)?.progressDetail, { current: 100_000, total: 100_000 });

  const big: ProgressMessage[] = [];
  const large = new ByteProgress((message) => big.push(message), 'id', 'Pushing', 1_000_000_000, () => now);
  large.add(512 * 1024 + 1);
  assert.equal(big.length, 1, 'at most 512 KiB between reports, however big the total');
  large.add(10);
  large.flush();
  assert.equal(big.at(-1)?.progressDetail?.current, 512 * 1024 + 11, 'flush reports what is left');
});

test('transfers: one run for every watcher, messages shared and replayed, the result for all', async () => {
  const manager = new TransferManager(3);
  let runs = 0;
  let finish!: (value: string) => void;
  const run = async (context: TransferContext) => {
    runs++;
    context.progress(updateMessage('layer', 'Downloading'));
    return new Promise<string>((resolve) => { finish = resolve; });
  };
  const first: ProgressMessage[] = [];
  const second: ProgressMessage[] = [];
  const a = manager.watch('key', run, (message) => first.push(message));
  await Promise.resolve();
  await Promise.resolve();
  const b = manager.watch('key', run, (message) => second.push(message));
  assert.equal(a.started, true);
  assert.equal(b.started, false);
  assert.deepEqual(second, [updateMessage('layer', 'Downloading')], 'the latest message is replayed to a late watcher');
  finish('done');
  assert.deepEqual(await Promise.all([a.result, b.result]), ['done', 'done']);
  assert.equal(runs, 1);
  assert.deepEqual(first, [updateMessage('layer', 'Downloading')]);
  // Ended transfers are forgotten: the next watch runs again.
  const c = manager.watch('key', async () => 'again', () => undefined);
  assert.equal(await c.result, 'again');
});

test('transfers: cancelled when the last watcher leaves, not before', async () => {
  const manager = new TransferManager(3);
  let signal!: AbortSignal;
  const run = (context: TransferContext) => {
    signal = context.signal;
    return new Promise<void>((_resolve, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason as Error)));
  };
  const a = manager.watch('key', run, () => undefined);
  const b = manager.watch('key', run, () => undefined);
  await Promise.resolve();
  await Promise.resolve();
  a.release();
  assert.equal(signal.aborted, false);
  b.release();
  assert.equal(signal.aborted, true);
  await assert.rejects(a.result, { name: 'AbortError' });
});

test('transfers: slots in the order asked, "Waiting" for those beyond the limit, freed to the next', async () => {
  const manager = new TransferManager(2);
  const messages: ProgressMessage[] = [];
  const order: string[] = [];
  const frees: Array<() => void> = [];
  const watches = ['a', 'b', 'c', 'd'].map((id) => manager.watch(id, async (context) => {
    const free = await manager.slot(context, id);
    order.push(id);
    frees.push(free);
  }, (message) => messages.push(message)));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b']);
  assert.deepEqual(messages, [updateMessage('c', 'Waiting'), updateMessage('d', 'Waiting')]);
  frees[0]!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b', 'c']);
  // A waiting transfer whose watcher leaves gives up its place in the queue.
  watches[3]!.release();
  await assert.rejects(watches[3]!.result, { name: 'AbortError' });
  frees[1]!();
  frees[2]!();
  const later = manager.watch('e', async (context) => { (await manager.slot(context, 'e'))(); return 'ran'; }, () => undefined);
  assert.equal(await later.result, 'ran');
});

test('transfers: a raised limit lets waiting transfers run at once; a lowered one holds freed slots back', async () => {
  const manager = new TransferManager(1);
  const order: string[] = [];
  const frees = new Map<string, () => void>();
  for (const id of ['a', 'b', 'c', 'd']) {
    manager.watch(id, async (context) => {
      const free = await manager.slot(context, id);
      order.push(id);
      frees.set(id, free);
    }, () => undefined);
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a']);
  manager.setLimit(3);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b', 'c'], 'a SIGHUP raising max-concurrent-downloads starts waiting transfers');
  manager.setLimit(1);
  frees.get('a')!();
  frees.get('b')!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b', 'c'], 'still one above the new limit: d waits');
  frees.get('c')!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b', 'c', 'd']);
  frees.get('d')!();
});

test('unlessAborted: the promise, or the signal\'s reason first', async () => {
  assert.equal(await unlessAborted(Promise.resolve(1), undefined), 1);
  const controller = new AbortController();
  const pending = unlessAborted(new Promise(() => undefined), controller.signal);
  controller.abort();
  await assert.rejects(pending, { name: 'AbortError' });
});

test('parsePlatform: containerd\'s normalisation and Docker\'s errors', () => {
  const host = { os: 'linux', architecture: 'amd64' };
  assert.deepEqual(parsePlatform('linux/arm64', host), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/arm64/v8', host), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/aarch64', host), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/arm', host), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/armhf', host), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/arm/6', host), { os: 'linux', architecture: 'arm', variant: 'v6' });
  assert.deepEqual(parsePlatform('Linux/x86_64', host), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('i386', host), { os: 'linux', architecture: '386' });
  assert.deepEqual(parsePlatform('windows', host), { os: 'windows', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('macos/arm64', host), { os: 'darwin', architecture: 'arm64' });
  assert.throws(() => parsePlatform('bogus/x/y/z', host), new PlatformError('"bogus/x/y/z": cannot parse platform specifier: invalid argument'));
  assert.throws(() => parsePlatform('linux/a b', host), PlatformError);
});

test('unlessAborted: a promise nobody waits for any more (the signal had aborted) fails without an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const controller = new AbortController();
    controller.abort();
    let fail!: (error: Error) => void;
    const late = new Promise<void>((_, reject) => { fail = reject; });
    await assert.rejects(unlessAborted(late, controller.signal), { name: 'AbortError' });
    fail(new Error('cancelled transfer'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
