// The Engine API's multiplexed stream (attach, logs and exec without a TTY): frames of an 8-byte
// header (stream id 0/1/2/3, three zero bytes, big-endian uint32 length) followed by the payload.

import type { Readable, Writable } from 'node:stream';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** Docker's "systemerr" stream: the daemon reports an error in the middle of a stream. */
export const SYSTEMERR = 3;

export type StreamId = typeof STDIN | typeof STDOUT | typeof STDERR | typeof SYSTEMERR;

export interface Frame {
  stream: StreamId;
  payload: Buffer;
}

const HEADER_SIZE = 8;

/** One frame's bytes, as the daemon writes them (used by tests and by anything that must produce the format). */
export function encodeFrame(stream: StreamId, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Incremental parser: feed it chunks as they arrive, get the frames that are complete. */
export class StreamDemuxer {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    while (this.buffered.length >= HEADER_SIZE) {
      const stream = this.buffered[0]!;
      if (stream > SYSTEMERR) {
        throw new Error(`Unrecognized input header: ${stream}`);
      }
      const length = this.buffered.readUInt32BE(4);
      if (this.buffered.length < HEADER_SIZE + length) break;
      frames.push({
        stream: stream as StreamId,
        payload: this.buffered.subarray(HEADER_SIZE, HEADER_SIZE + length),
      });
      this.buffered = this.buffered.subarray(HEADER_SIZE + length);
    }
    return frames;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pendingBytes(): number {
    return this.buffered.length;
  }
}

function write(target: Writable, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = target.write(data, (err) => {
      if (err) reject(err);
    });
    if (ok) resolve();
    else target.once('drain', resolve);
  });
}

/**
 * Copy a multiplexed stream to stdout/stderr writers until the source ends (Docker's
 * stdcopy.StdCopy). Frames for a stream without a writer are dropped. A systemerr frame ends
 * the copy with an error, as in Docker.
 */
export async function demuxStream(source: Readable, stdout: Writable | null, stderr: Writable | null): Promise<void> {
  const demuxer = new StreamDemuxer();
  for await (const chunk of source) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    for (const frame of demuxer.push(data)) {
      if (frame.stream === SYSTEMERR) {
        throw new Error(`error from daemon in stream: ${frame.payload.toString()}`);
      }
      const target = frame.stream === STDERR ? stderr : stdout;
      if (target && frame.payload.length > 0) await write(target, frame.payload);
    }
  }
}
