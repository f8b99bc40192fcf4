// The exec I/O socket: where the process helper's nsexec workers (native/ns-exec.c) bring the
// stdio of the processes they run in containers. A worker connects, writes the token berthd
// gave its request and a newline, then sends the process's stdout and stderr in Docker's stream
// frames; what berthd writes on the connection is the process's stdin, and berthd's half-close
// ends it. One connection per process, so each has its own backpressure: a slow client slows
// only its own process.
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

const TOKEN_LINE_LIMIT = 128;
const UNIX_PATH_MAX = 107;
/** A worker writes its token right after it connects. */
const TOKEN_WAIT_MS = 10_000;
const FRAME_HEADER = 8;

/** A piece of a process's output, as it was written. */
export interface OutputChunk { stream: 'stdout' | 'stderr'; bytes: Buffer }

interface Expected { resolve: (socket: Socket) => void; reject: (error: Error) => void }

export class ExecIoListener {
  private server: Server | undefined;
  private listening: Promise<boolean> | undefined;
  private readonly expected = new Map<string, Expected>();

  constructor(readonly path: string) {}

  /** Listens once; false where it cannot (the path too long for a unix socket, say). */
  ready(): Promise<boolean> {
    this.listening ??= this.listen();
    return this.listening;
  }

  /** A token for one process, and the connection its worker will open with it. */
  expect(): { token: string; connection: Promise<Socket>; cancel: (error: Error) => void } {
    const token = randomBytes(16).toString('hex');
    let expected!: Expected;
    const connection = new Promise<Socket>((resolve, reject) => { expected = { resolve, reject }; });
    connection.catch(() => undefined);
    this.expected.set(token, expected);
    return {
      token, connection,
      cancel: (error) => {
        if (this.expected.delete(token)) expected.reject(error);
      },
    };
  }

  close(): void {
    this.server?.close();
    for (const [token, expected] of this.expected) {
      this.expected.delete(token);
      expected.reject(new Error('exec I/O socket closed'));
    }
  }

  private async listen(): Promise<boolean> {
    await rm(this.path, { force: true });
    // A unix socket's address holds at most 107 bytes: a longer path is bound through its
    // directory's descriptor (the workers connect the same way).
    let directory: FileHandle | undefined;
    let address = this.path;
    if (Buffer.byteLength(this.path) > UNIX_PATH_MAX) {
      directory = await open(dirname(this.path), constants.O_RDONLY | constants.O_DIRECTORY).catch(() => undefined);
      if (!directory) return false;
      address = `/proc/self/fd/${directory.fd}/${basename(this.path)}`;
    }
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    server.on('error', () => undefined);
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen({ path: address, readableAll: false, writableAll: false }, () => resolve(true));
    });
    await directory?.close();
    if (listening) {
      this.server = server;
      server.unref();
    }
    return listening;
  }

  /** Reads the token line, then hands the connection (the rest of its bytes unread) to whoever expects it. */
  private accept(socket: Socket): void {
    socket.on('error', () => undefined);
    socket.setTimeout(TOKEN_WAIT_MS, () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const newline = head.indexOf(0x0a);
      if (newline < 0) {
        if (head.length > TOKEN_LINE_LIMIT) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      const token = head.subarray(0, newline).toString();
      const expected = this.expected.get(token);
      if (!expected) { socket.destroy(); return; }
      this.expected.delete(token);
      const rest = head.subarray(newline + 1);
      if (rest.length > 0) socket.unshift(rest);
      expected.resolve(socket);
    };
    socket.on('data', onData);
  }
}

/**
 * The output frames a worker sends, until the worker closes the connection (the process ended
 * and its pipes were read) or `signal` aborts (the client is gone: the connection is dropped,
 * and the worker discards the rest).
 */
export async function* execOutputFrames(socket: Socket, signal: AbortSignal): AsyncGenerator<OutputChunk> {
  const dropped = () => socket.destroy();
  if (signal.aborted) dropped();
  signal.addEventListener('abort', dropped, { once: true });
  let pending: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= FRAME_HEADER) {
        const length = pending.readUInt32BE(4);
        if (pending.length < FRAME_HEADER + length) break;
        const stream = pending[0] === 2 ? 'stderr' : 'stdout';
        const bytes = pending.subarray(FRAME_HEADER, FRAME_HEADER + length);
        pending = pending.subarray(FRAME_HEADER + length);
        yield { stream, bytes };
      }
    }
  } catch {
    // Dropped (abort) or reset: the output ends here.
  } finally {
    signal.removeEventListener('abort', dropped);
    socket.destroy();
  }
}
