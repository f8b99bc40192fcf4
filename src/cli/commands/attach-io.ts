// The client side of an attached container: copies the hijacked connection to our stdout /
// stderr (demultiplexed unless the container has a TTY), our stdin into it (half-closing at
// EOF), raw terminal mode with the detach-key escape, signal forwarding and TTY resizing.

import type { Duplex } from 'node:stream';
import type { EngineClient } from '../../client/engine-client.js';
import { demuxStream } from '../../wire/stdcopy.js';
import { DEFAULT_DETACH_KEYS, EscapeProxy, parseDetachKeys } from '../../util/detach-keys.js';

export interface AttachOptions {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys?: string;
}

export interface AttachedStreams {
  /** Resolves when the container's output ended (or at once if no output is attached). */
  outputDone: Promise<void>;
  /** Resolves if the user typed the detach sequence. */
  detached: Promise<void>;
  /** Put the terminal back and stop reading stdin. */
  restore(): void;
}

/** Start copying between the hijacked socket and this process's stdio. */
export function pumpAttachedStreams(socket: Duplex, options: AttachOptions): AttachedStreams {
  const stdin = process.stdin;
  let rawMode = false;
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (rawMode && stdin.isTTY) stdin.setRawMode(false);
    if (options.stdin) stdin.pause();
  };

  let resolveDetached: () => void = () => undefined;
  const detached = new Promise<void>((resolve) => {
    resolveDetached = resolve;
  });

  if (options.stdin) {
    const escape = options.tty ? new EscapeProxy(parseDetachKeys(options.detachKeys || DEFAULT_DETACH_KEYS)) : undefined;
    if (options.tty && stdin.isTTY) {
      stdin.setRawMode(true);
      rawMode = true;
    }
    stdin.on('data', (chunk: Buffer) => {
      if (!escape) {
        socket.write(chunk);
        return;
      }
      const { forward, detach } = escape.feed(chunk);
      if (forward.length > 0) socket.write(forward);
      if (detach) {
        restore();
        resolveDetached();
      }
    });
    stdin.once('end', () => {
      // Docker's CloseWrite: the container sees EOF on its stdin, output keeps flowing.
      socket.end();
    });
    stdin.resume();
  } else {
    socket.end();
  }

  let outputDone: Promise<void>;
  if (!options.stdout && !options.stderr) {
    outputDone = new Promise((resolve) => {
      socket.resume();
      socket.once('close', () => resolve());
      socket.once('end', () => resolve());
    });
  } else if (options.tty) {
    outputDone = new Promise((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        if (options.stdout) process.stdout.write(chunk);
      });
      socket.once('end', () => {
        restore();
        resolve();
      });
      socket.once('close', () => resolve());
      socket.once('error', reject);
    });
  } else {
    outputDone = demuxStream(socket, options.stdout ? process.stdout : null, options.stderr ? process.stderr : null);
  }
  // A reset connection after the container exited is not worth failing the command over.
  outputDone = outputDone.catch((err: Error) => {
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') return;
    throw err;
  });
  return { outputDone, detached, restore };
}

/** Signals the client forwards to the container (docker's ForwardAllSignals, minus what Node reserves). */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** Forward signals we receive to the container; returns the function that stops forwarding. */
export function forwardSignals(client: EngineClient, containerId: string): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = (): void => {
      client.containerKill(containerId, signal).catch(() => undefined);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/** Keep the container's (or, with `isExec`, the exec session's) TTY the size of ours (MonitorTtySize); returns the stop function. */
export function monitorTtySize(client: EngineClient, containerId: string, isExec = false): () => void {
  if (!process.stdout.isTTY) return () => undefined;
  const resize = (): void => {
    const { rows, columns } = process.stdout;
    if (!rows || !columns) return;
    (isExec ? client.execResize(containerId, rows, columns) : client.containerResize(containerId, rows, columns)).catch(() => undefined);
  };
  resize();
  process.stdout.on('resize', resize);
  return () => process.stdout.off('resize', resize);
}
