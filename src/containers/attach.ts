// A container's output and input as clients follow them: logs, the output of the current (or
// next) run for `docker run` and `docker attach`, its stdin relay and its terminal size.
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { conflict } from '../errdefs/errors.js';
import { resizeTerminal } from '../runtime/console.js';
import { openStdinRelay } from '../runtime/stdin-relay.js';
import type { ContainerCore } from './core.js';
import { logSize, readLog, type LogEntry, type LogReadOptions } from './logs.js';
import type { ExitMonitor } from './monitor.js';
import type { ContainerRecord } from './record.js';

export interface AttachOutputOptions { stdout: boolean; stderr: boolean; logs: boolean; stream: boolean }

export class ContainerStreams {
  constructor(private readonly core: ContainerCore, private readonly monitor: ExitMonitor) {}

  /** Log entries; with follow, until the container stops or the reader aborts. */
  logs(record: ContainerRecord, options: LogReadOptions, follow: boolean, signal: AbortSignal): AsyncGenerator<LogEntry> {
    const followUntil = follow && record.state.Running ? { done: this.monitor.exited(record.id), signal } : undefined;
    return readLog(this.core.logPath(record), options, followUntil);
  }

  /**
   * The output of the container's current run (or its next one, when it is not running yet):
   * what the docker CLI's `run` and `attach` show. Ends when that run ends.
   */
  async *attachOutput(record: ContainerRecord, options: AttachOutputOptions, signal: AbortSignal): AsyncGenerator<LogEntry> {
    const { attachReaders } = this.core;
    let finished!: () => void;
    const reader = new Promise<void>((resolve) => { finished = resolve; });
    const readers = attachReaders.get(record.id) ?? new Set<Promise<void>>();
    readers.add(reader);
    attachReaders.set(record.id, readers);
    try {
      yield* this.readAttachedOutput(record, options, signal);
    } finally {
      finished();
      readers.delete(reader);
      if (readers.size === 0) attachReaders.delete(record.id);
    }
  }

  private async *readAttachedOutput(record: ContainerRecord, options: AttachOutputOptions, signal: AbortSignal): AsyncGenerator<LogEntry> {
    const path = this.core.logPath(record);
    if (options.logs) yield* readLog(path, { stdout: options.stdout, stderr: options.stderr, byRead: true });
    if (!options.stream) return;
    let offset: number;
    if (record.state.Running) {
      offset = await logSize(path);
    } else {
      const started = await this.nextStart(record.id, signal);
      if (started === undefined) return;
      offset = started;
    }
    yield* readLog(path, { stdout: options.stdout, stderr: options.stderr, offset, byRead: true }, { done: this.monitor.exited(record.id), signal });
  }

  /**
   * The container's stdin, for an attach session that asked for it: once the container runs
   * (now, or at its next start). Undefined when it was created without -i or the reader left.
   */
  async openStdin(record: ContainerRecord, signal: AbortSignal): Promise<Writable | undefined> {
    if (!record.config.OpenStdin) return undefined;
    if (!record.state.Running && (await this.nextStart(record.id, signal)) === undefined) return undefined;
    return openStdinRelay(join(this.core.socketRoot, record.id, 'attach'));
  }

  /** Sets the size of the container's terminal (nothing to do without one, as containerd answers). */
  async resize(record: ContainerRecord, height: number, width: number): Promise<void> {
    if (!record.state.Running || record.state.Restarting) throw conflict(`container ${record.id} is not running`);
    if (record.config.Tty) await resizeTerminal(this.core.containerPaths(record).bundle, height, width);
    this.core.publish(record, 'resize', { height: String(height), width: String(width) });
  }

  /** The log offset of the container's next start; undefined when it is removed first or the reader leaves. */
  private nextStart(id: string, signal: AbortSignal): Promise<number | undefined> {
    const { lifecycle } = this.core;
    return new Promise((resolve) => {
      const finish = (offset: number | undefined) => {
        lifecycle.off('started', onStart);
        lifecycle.off('removed', onRemoved);
        signal.removeEventListener('abort', onAbort);
        resolve(offset);
      };
      const onStart = (startedId: string, offset: number) => { if (startedId === id) finish(offset); };
      const onRemoved = (removedId: string) => { if (removedId === id) finish(undefined); };
      const onAbort = () => finish(undefined);
      lifecycle.on('started', onStart);
      lifecycle.on('removed', onRemoved);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
