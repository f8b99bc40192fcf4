// The content store: immutable blobs (image configs; later compressed layers and manifests)
// addressed by their sha256 digest, under <root>/blobs/sha256/<hex>.
//
// Lifecycle of a blob:
//   ingest  - bytes stream into a temp file under <root>/ingest/ while being hashed;
//   commit  - once the digest is known (and matches the expected one, if given) the temp file
//             is fsynced and renamed to blobs/sha256/<hex>: a blob either exists complete or
//             not at all; a failed ingest removes its temp file;
//   read    - readBuffer / createReadStream / path, by digest;
//   delete  - the image service removes a blob when nothing references it any more.
// Blobs never change once committed, so readers need no locking.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { syncDirectory } from '../util/atomic.js';

export interface BlobInfo { digest: string; size: number }

const DIGEST_PATTERN = /^sha256:([a-f0-9]{64})$/;

export class InvalidDigestError extends Error {}
export class DigestMismatchError extends Error {}

/** The hex part of "sha256:<hex>"; throws for anything else. */
export function digestHex(digest: string): string {
  const match = DIGEST_PATTERN.exec(digest);
  if (!match) throw new InvalidDigestError(`invalid digest: ${digest}`);
  return match[1]!;
}

/** The first 12 hex digits, as Docker's progress ids show a blob. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export class ContentStore {
  private readonly blobsDir: string;
  private readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    // Leftovers of ingests interrupted by a crash are never resumed: drop them.
    await rm(this.ingestDir, { recursive: true, force: true });
    await mkdir(this.ingestDir, { recursive: true });
  }

  /** Writes a blob; with `expected`, fails (and keeps nothing) unless the content matches it. */
  async ingest(source: Readable | Buffer, expected?: string): Promise<BlobInfo> {
    if (expected !== undefined) digestHex(expected);
    const temp = join(this.ingestDir, randomBytes(12).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    try {
      const input = Buffer.isBuffer(source) ? Readable.from([source]) : source;
      // Opened before the copy starts: a stream opening the file itself may create it after a
      // failing input has already ended the copy, and so after the cleanup below.
      const output = createWriteStream(temp, { fd: await open(temp, 'wx', 0o644), flush: true });
      await pipeline(input, async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      }, output);
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected !== undefined && expected !== digest) {
        throw new DigestMismatchError(`digest mismatch: expected ${expected}, got ${digest}`);
      }
      const target = this.path(digest);
      await rename(temp, target);
      await syncDirectory(this.blobsDir);
      return { digest, size };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** Absolute path of a blob (whether or not it exists). */
  path(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.path(digest));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  readBuffer(digest: string): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  createReadStream(digest: string): ReadStream {
    return createReadStream(this.path(digest));
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Digests of every committed blob. */
  async list(): Promise<string[]> {
    const names = await readdir(this.blobsDir);
    return names.filter((name) => /^[a-f0-9]{64}$/.test(name)).map((hex) => `sha256:${hex}`);
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
