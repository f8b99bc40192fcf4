// One client attached to a container (or exec) session: copies the container's output to the
// client's connection (stdcopy frames, or raw with a TTY) and the client's input to the
// container's stdin, with Docker's rules for the ends:
//   - with a TTY, the detach keys (ctrl-p ctrl-q unless told otherwise) end the session and
//     leave the process running; the client's EOF ends the session too;
//   - without a TTY, the client's EOF closes the container's stdin when `closeStdinOnEof`
//     (StdinOnce) and the output goes on until the process ends.
import type { Duplex, Writable } from 'node:stream';
import type { LogEntry } from '../containers/logs.js';
import { EscapeProxy } from '../util/detach-keys.js';
import { drained } from '../util/streams.js';
import { encodeFrame, STDERR, STDOUT } from '../wire/stdcopy.js';

export interface AttachSessionOptions {
  connection: Duplex;
  tty: boolean;
  /**
   * Frames (stdcopy) or raw bytes, whatever `tty` says: the websocket variant never
   * multiplexes; an exec follows its start request's Tty, not its own, as moby does.
   */
  multiplex: boolean;
  timestamps?: boolean;
  /** Output entries; must stop when `signal` aborts. */
  output: (signal: AbortSignal) => AsyncIterable<LogEntry>;
  /** The process's stdin, when the client sends input; resolves undefined when there is none. */
  stdin?: Promise<Writable | undefined>;
  detachKeys: number[];
  closeStdinOnEof: boolean;
  /** The client went away. */
  signal: AbortSignal;
}

/** Runs the session to its end; says whether the client detached. */
export async function runAttachSession(options: AttachSessionOptions): Promise<'detached' | 'ended'> {
  const { connection, tty } = options;
  const outputControl = new AbortController();
  const stopOutput = () => outputControl.abort();
  options.signal.addEventListener('abort', stopOutput, { once: true });
  if (options.signal.aborted) stopOutput();
  let detached = false;

  if (options.stdin) {
    void options.stdin.then((stdin) => {
      if (!stdin) {
        connection.resume();
        return;
      }
      const escape = tty ? new EscapeProxy(options.detachKeys) : undefined;
      const finishInput = () => {
        connection.off('data', onData);
        stdin.end();
      };
      const onData = (chunk: Buffer) => {
        if (!escape) {
          if (!stdin.write(chunk)) {
            connection.pause();
            stdin.once('drain', () => connection.resume());
          }
          return;
        }
        const { forward, detach } = escape.feed(chunk);
        if (forward.length > 0) stdin.write(forward);
        if (detach) {
          detached = true;
          finishInput();
          stopOutput();
        }
      };
      const onEnd = () => {
        finishInput();
        // Docker ends a TTY session, or one whose stdin stays open, when the client's input ends.
        if (tty || !options.closeStdinOnEof) stopOutput();
      };
      connection.on('data', onData);
      // The client may have ended its input before the stdin was open (read with the request's body).
      if (connection.readableEnded) onEnd();
      else connection.once('end', onEnd);
      connection.once('close', finishInput);
      stdin.on('error', () => undefined);
      // The client may have left while the stdin was being opened: the relay must not outlive it.
      if (connection.destroyed || options.signal.aborted) finishInput();
    });
  } else {
    connection.resume();
  }

  const write = (entry: LogEntry): boolean => {
    const bytes = options.timestamps ? Buffer.concat([Buffer.from(`${entry.timestamp} `), entry.bytes]) : entry.bytes;
    if (!options.multiplex) return connection.write(bytes);
    return connection.write(encodeFrame(entry.stream === 'stderr' ? STDERR : STDOUT, bytes));
  };
  try {
    for await (const entry of options.output(outputControl.signal)) {
      if (outputControl.signal.aborted) break;
      if (!write(entry)) await drained(connection, outputControl.signal);
    }
  } finally {
    options.signal.removeEventListener('abort', stopOutput);
    connection.end();
  }
  return detached ? 'detached' : 'ended';
}

