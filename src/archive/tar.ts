// Tar streams: packPath() writes a tar of one path (a directory with its contents, under a
// name of the caller's choosing) as moby's archiver does, readTar() parses one, and
// rebaseArchive() renames its entries (cp to a new name).
import { constants as fsConstants, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { drained } from '../util/streams.js';

// ---- packing ------------------------------------------------------------------------------------------

/** tar-stream's header with the PAX records it parses and writes. */
export type TarHeader = Partial<tarStream.Header> & { name: string; pax?: Record<string, string> | null };

/** The ustar uid/gid fields hold 6 octal digits; larger IDs go to PAX records. */
const USTAR_MAX_ID = 0o777777;

const READ_CHUNK = 64 * 1024;

/**
 * A tar of `hostPath` streamed as moby's archiver writes it: the entry itself named `topName`
 * (a directory with a trailing "/"), a directory's contents below it in name order; hard links
 * within the archive as links; sockets left out; times in whole seconds. `topName` "" names the
 * entries absolutely ("/", "/bin", ...), as Docker does for a container's "/".
 *
 * `grafts` maps paths below the top ("data/vol", no leading "/") to the host directories packed
 * in their place: a container's mounts, whose contents a tar of the layer beneath would miss.
 */
export function packPath(hostPath: string, topName: string, options: { grafts?: ReadonlyMap<string, string>; mapOwner?: OwnerMap } = {}): Readable {
  const pack = quiet(tarStream.pack());
  const output = Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
  const walk: Walk = { pack, seen: new Map(), grafts: options.grafts ?? new Map(), mapOwner: options.mapOwner, recurse: true };
  void (async () => {
    await addTree(walk, hostPath, topName, '', true);
    pack.finalize();
  })().catch((error: unknown) => { output.destroy(error as Error); });
  return output;
}

/** Host owners as the archive names them: a user-namespace remapped root's files by their IDs in the container. */
export type OwnerMap = (owner: { uid: number; gid: number }) => { uid: number; gid: number };

interface Walk {
  pack: tarStream.Pack;
  /** hard-linked inodes already packed, by the name of their first entry */
  seen: Map<string, string>;
  grafts: ReadonlyMap<string, string>;
  mapOwner: OwnerMap | undefined;
  /** false: a directory alone, without its contents (a diff's entry) */
  recurse: boolean;
}

async function addTree(walk: Walk, hostPath: string, name: string, relative: string, top: boolean): Promise<void> {
  const { pack, seen, grafts, mapOwner, recurse } = walk;
  let stats: BigIntStats;
  try {
    stats = await lstat(hostPath, { bigint: true });
  } catch (error) {
    // moby skips what vanished while it walked (a running container changes under it).
    if (!top) return;
    throw error;
  }
  if (stats.isSocket()) return;
  const header = headerFor(stats, name, mapOwner);
  if (stats.isSymbolicLink()) header.linkname = await readlink(hostPath);
  if (!stats.isDirectory() && stats.nlink > 1n) {
    const inode = `${stats.dev}:${stats.ino}`;
    const first = seen.get(inode);
    if (first !== undefined) {
      await addEntry(pack, { ...header, type: 'link', linkname: first, size: 0 });
      return;
    }
    seen.set(inode, header.name);
  }
  if (stats.isFile()) {
    await addFile(pack, { ...header, size: Number(stats.size) }, hostPath);
    return;
  }
  await addEntry(pack, header);
  if (!stats.isDirectory() || !recurse) return;
  let children: string[];
  try {
    children = await readdir(hostPath);
  } catch {
    return;
  }
  const prefix = relative === '' ? '' : `${relative}/`;
  for (const graft of grafts.keys()) {
    // A mount point the layer lacks (its directory made only inside the container) is still packed.
    const child = graft.slice(prefix.length);
    if (graft.startsWith(prefix) && child !== '' && !child.includes('/') && !children.includes(child)) children.push(child);
  }
  for (const child of children.sort()) {
    const childRelative = `${prefix}${child}`;
    await addTree(walk, grafts.get(childRelative) ?? `${hostPath}/${child}`, `${name}/${child}`, childRelative, false);
  }
}

function headerFor(stats: BigIntStats, name: string, mapOwner?: OwnerMap): TarHeader {
  const mode = Number(stats.mode);
  const hostOwner = { uid: Number(stats.uid), gid: Number(stats.gid) };
  const { uid, gid } = mapOwner ? mapOwner(hostOwner) : hostOwner;
  const header: TarHeader = {
    name: stats.isDirectory() ? `${name}/` : name,
    mode: mode & 0o7777,
    uid: uid > USTAR_MAX_ID ? 0 : uid,
    gid: gid > USTAR_MAX_ID ? 0 : gid,
    size: 0,
    mtime: new Date(Number(stats.mtimeNs / 1_000_000_000n) * 1000),
    type: tarType(stats),
  };
  if (uid > USTAR_MAX_ID || gid > USTAR_MAX_ID) header.pax = { uid: String(uid), gid: String(gid) };
  if (stats.isCharacterDevice() || stats.isBlockDevice()) {
    const rdev = stats.rdev;
    header.devmajor = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
    header.devminor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  }
  return header;
}

function tarType(stats: BigIntStats): TarHeader['type'] {
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'character-device';
  if (stats.isBlockDevice()) return 'block-device';
  if (stats.isFIFO()) return 'fifo';
  return 'file';
}

function addEntry(pack: tarStream.Pack, header: TarHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    quiet(pack.entry(header, (error?: Error | null) => (error ? reject(error) : resolve())));
  });
}

/**
 * streamx streams emit 'error' when destroyed (a client that went away); the callers see
 * those errors through their callbacks and iterators, so the event itself needs no handler
 * but must have one: an unhandled 'error' ends the process.
 */
function quiet<T extends { on(event: 'error', listener: (error: Error) => void): unknown }>(stream: T): T {
  stream.on('error', () => undefined);
  return stream;
}

/** A file's bytes, exactly as many as its header says (a file that shrank meanwhile is padded). */
async function addFile(pack: tarStream.Pack, header: TarHeader, hostPath: string): Promise<void> {
  const total = header.size ?? 0;
  let entry!: ReturnType<tarStream.Pack['entry']>;
  const finished = new Promise<void>((resolve, reject) => {
    entry = quiet(pack.entry(header, (error?: Error | null) => (error ? reject(error) : resolve())));
  });
  // Awaited only at the end; a failure meanwhile (the reader went away) also ends the loop below.
  finished.catch(() => undefined);
  const file = await open(hostPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    let written = 0;
    while (written < total) {
      const buffer = Buffer.alloc(Math.min(READ_CHUNK, total - written));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, written);
      const chunk = bytesRead === 0 ? buffer : buffer.subarray(0, bytesRead);
      written += chunk.length;
      await writeTo(entry, chunk);
    }
  } finally {
    await file.close();
  }
  entry.end(undefined);
  await finished;
}

interface Emitter {
  on(event: string, listener: () => void): unknown;
  once(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

interface WritableLike extends Emitter {
  write(chunk: unknown): boolean;
  readonly destroyed: boolean;
  readonly destroying: boolean;
}

/** Writes with backpressure; a stream destroyed meanwhile (its reader went away) is an error, not a wait forever. */
async function writeTo(stream: WritableLike, chunk: Buffer): Promise<void> {
  if (stream.destroying || stream.destroyed) throw new Error('tar stream closed');
  if (!stream.write(chunk)) await drained(stream);
}

// ---- reading ------------------------------------------------------------------------------------------

export interface TarEntry {
  header: TarHeader;
  /** Must be read (or left) before the next entry is asked for. */
  body: AsyncIterable<Buffer>;
}

/** The entries of a plain tar stream; an archive that ends early is an error. */
export async function* readTar(source: Readable): AsyncGenerator<TarEntry> {
  const extract = quiet(tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]));
  let done = false;
  void (async () => {
    for await (const chunk of source) {
      await writeTo(extract, chunk as Buffer);
    }
    extract.end(undefined);
  })().catch((error: unknown) => extract.destroy(error as Error));
  try {
    for await (const entry of extract) {
      quiet(entry);
      yield { header: entry.header as TarHeader, body: entry as AsyncIterable<Buffer> };
      for await (const _rest of entry as AsyncIterable<Buffer>) { /* what the consumer left of this entry */ }
    }
    done = true;
  } finally {
    if (!done) {
      extract.destroy();
      source.destroy();
    }
  }
}

/**
 * Rewrites entry names (and hard link targets) replacing the first `oldBase` with `newBase`,
 * as moby's RebaseArchiveEntries does for `cp` to a new name.
 */
export function rebaseArchive(source: Readable, oldBase: string, newBase: string): Readable {
  const from = oldBase === '/' ? '' : oldBase;
  const pack = quiet(tarStream.pack());
  const output = Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
  void (async () => {
    for await (const { header, body } of readTar(source)) {
      const rebased: TarHeader = { ...header, name: header.name.replace(from, newBase) };
      if (header.type === 'link' && header.linkname) rebased.linkname = header.linkname.replace(from, newBase);
      if (rebased.pax) {
        const { path: _path, linkpath: _linkpath, ...records } = rebased.pax;
        rebased.pax = Object.keys(records).length > 0 ? records : null;
      }
      await new Promise<void>((resolve, reject) => {
        const entry = quiet(pack.entry(rebased, (error?: Error | null) => (error ? reject(error) : resolve())));
        void (async () => {
          for await (const chunk of body) await writeTo(entry, chunk);
          entry.end(undefined);
        })().catch(reject);
      });
    }
    pack.finalize();
  })().catch((error: unknown) => { output.destroy(error as Error); });
  return output;
}
