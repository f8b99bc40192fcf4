// Turns a layer or rootfs tarball of any compression Docker accepts (gzip, bzip2, xz, zstd or
// none) into a stream of the plain tar bytes, detected from the magic bytes as Docker does.
// gzip uses zlib in-process; the others run the system's decompressor as a child process.
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

const MAGIC: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

export function detectCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((byte, index) => head[index] === byte)) return kind;
  }
  return 'none';
}

const DECOMPRESSORS: Record<'bzip2' | 'xz' | 'zstd', [string, string[]]> = {
  bzip2: ['bzip2', ['-dc']],
  xz: ['xz', ['-dc']],
  zstd: ['zstd', ['-dcq']],
};

/** The decompressed bytes of `source`; errors of the source or of the decompressor surface while iterating. */
export async function decompressStream(source: Readable): Promise<AsyncIterable<Buffer>> {
  const iterator: AsyncIterator<Buffer> = source[Symbol.asyncIterator]();
  const headChunks: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < 6) {
    const next = await iterator.next();
    if (next.done) { ended = true; break; }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    headChunks.push(chunk);
    headLength += chunk.length;
  }
  const head = Buffer.concat(headChunks);
  const whole = Readable.from((async function* () {
    // The source stays its caller's: a request body must not be destroyed here when unpacking
    // fails (its client would get a broken pipe instead of the error), and a blob's file
    // stream is destroyed by whoever opened it.
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  })(), { objectMode: false });

  const kind = detectCompression(head);
  if (kind === 'none') return whole;
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    // Errors reach the consumer through gunzip, which pipeline destroys with them.
    pipeline(whole, gunzip).catch(() => undefined);
    return gunzip;
  }
  const [command, args] = DECOMPRESSORS[kind];
  return runFilter(command, args, whole);
}

async function* runFilter(command: string, args: string[], input: Readable): AsyncGenerator<Buffer> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => { if (stderr.length < 4096) stderr += text; });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);
  let inputError: unknown;
  pipeline(input, child.stdin).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') inputError = error;
  });
  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (inputError) throw inputError;
    if (code !== 0) throw new Error(`${command}: ${stderr.trim() || `exit status ${code}`}`);
    finished = true;
  } finally {
    if (!finished) {
      child.kill('SIGKILL');
      input.destroy();
    }
  }
}
