// Transfers shared between concurrent pulls or pushes (Docker's distribution/xfer transfer
// manager): one transfer per key, however many operations need it.
//
// Lifecycle of a transfer: the first watcher starts it; every watcher receives its progress
// messages (the latest one of each id is replayed to a watcher that joins late); it ends on
// its own, with a result or an error that every watcher gets, or it is cancelled (its signal
// aborted) when its last watcher leaves before the end. A transfer takes one of the manager's
// `limit` slots while it moves bytes; one that has to wait for a slot says "Waiting".
import { setTimeout as sleep } from 'node:timers/promises';
import { type Progress, type ProgressMessage, updateMessage } from '../wire/progress.js';

export interface TransferContext {
  /** Aborted when the last watcher has left. */
  signal: AbortSignal;
  /** Sends a message to every watcher. */
  progress: Progress;
}

export interface Watch<T> {
  /** Settles with the transfer. */
  result: Promise<T>;
  /** Whether this watcher started the transfer (rather than joining one under way). */
  started: boolean;
  /** Stops watching; the last watcher to leave cancels the transfer. */
  release(): void;
}

class Transfer<T> {
  readonly watchers = new Set<Progress>();
  readonly controller = new AbortController();
  readonly latest = new Map<string, ProgressMessage>();
  settled = false;

  constructor(readonly result: Promise<T>) {}

  broadcast(message: ProgressMessage): void {
    if (message.id !== undefined) this.latest.set(message.id, message);
    for (const watcher of this.watchers) watcher(message);
  }
}

export class TransferManager {
  private readonly transfers = new Map<string, Transfer<unknown>>();
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private limit: number) {}

  /** Changes how many transfers may move bytes at once (a reload of max-concurrent-downloads). */
  setLimit(limit: number): void {
    this.limit = limit;
    while (this.active < this.limit && this.queue.length > 0) {
      this.active++;
      this.queue.shift()!();
    }
  }

  /** Joins the transfer under `key`, or starts one with `run` when none is under way. */
  watch<T>(key: string, run: (context: TransferContext) => Promise<T>, progress: Progress): Watch<T> {
    let transfer = this.transfers.get(key) as Transfer<T> | undefined;
    const started = transfer === undefined;
    if (transfer) {
      for (const message of transfer.latest.values()) progress(message);
    } else {
      let begin!: () => void;
      const ready = new Promise<void>((resolve) => { begin = resolve; });
      const created: Transfer<T> = new Transfer<T>(ready.then(() => run({
        signal: created.controller.signal, progress: (message) => created.broadcast(message),
      })));
      transfer = created;
      this.transfers.set(key, created);
      const forget = () => {
        created.settled = true;
        if (this.transfers.get(key) === created) this.transfers.delete(key);
      };
      created.result.then(forget, forget);
      // The first watcher is registered below before the transfer runs.
      queueMicrotask(begin);
    }
    const current = transfer;
    current.watchers.add(progress);
    let released = false;
    return {
      result: current.result,
      started,
      release: () => {
        if (released) return;
        released = true;
        current.watchers.delete(progress);
        if (current.watchers.size === 0 && !current.settled) {
          current.controller.abort();
          // A later operation starts afresh rather than joining a transfer being cancelled.
          if (this.transfers.get(key) === current) this.transfers.delete(key);
        }
      },
    };
  }

  /** Waits for a slot ("Waiting" for `id` while it must); the function returned frees it. */
  async slot(context: TransferContext, id: string): Promise<() => void> {
    context.signal.throwIfAborted();
    if (this.active < this.limit) {
      this.active++;
    } else {
      context.progress(updateMessage(id, 'Waiting'));
      await new Promise<void>((resolve, reject) => {
        const granted = () => {
          context.signal.removeEventListener('abort', cancelled);
          resolve();
        };
        const cancelled = () => {
          const index = this.queue.indexOf(granted);
          if (index !== -1) this.queue.splice(index, 1);
          reject(context.signal.reason);
        };
        this.queue.push(granted);
        context.signal.addEventListener('abort', cancelled, { once: true });
      });
    }
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      // The slot goes straight to the next in line, if any (unless the limit was lowered meanwhile).
      const next = this.active <= this.limit ? this.queue.shift() : undefined;
      if (next) next();
      else this.active--;
    };
  }
}

/** Docker's "Retrying in N seconds" countdown, a message a second; rejects when aborted. */
export async function retryCountdown(context: TransferContext, id: string, seconds: number): Promise<void> {
  for (let left = seconds; left > 0; left--) {
    context.progress(updateMessage(id, `Retrying in ${left} second${left === 1 ? '' : 's'}`));
    await sleep(1000, undefined, { signal: context.signal });
  }
}

/** The promise, or a rejection with the signal's reason if it aborts first. */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    // Nobody waits for it any more: its own failure (the cancelled transfers) must not go unhandled.
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const aborted = () => reject(signal.reason as Error);
    signal.addEventListener('abort', aborted, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', aborted); resolve(value); },
      (error: unknown) => { signal.removeEventListener('abort', aborted); reject(error); },
    );
  });
}
