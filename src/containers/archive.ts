// Files inside containers, as the archive API, `docker cp` and `docker export` see them.
//
// Paths: a container path is resolved inside the container's root filesystem as if that root
// were "/" (moby's FollowSymlinkInScope): symlinks, absolute or relative, and ".." are evaluated
// within the root and never leave it. The resolver is pure over a two-call file-system view
// (ScopeFs), so it is tested without a root filesystem.
//
// Tar: packPath() streams a tar of one path (a directory with its contents, under a name of the
// caller's choosing), readTar() parses one, untar() extracts one into a directory with the rules
// of moby's archive.Untar (names cleaned; entries, symlinks and hard links that would leave the
// target refused; existing entries replaced; owners, modes and times restored) through a
// FileScope: a container's root, or the local file system for the CLI's side of `cp`.
//
// ContainerFiles is the daemon's backend for HEAD/GET/PUT /containers/{id}/archive and
// GET /containers/{id}/export. Each call keeps the container's root filesystem mounted
// (ContainerService.withRootfs) for as long as it runs, a streamed answer included, without
// holding the container's lock: a client that stops reading never blocks stop or rm.
// An upload is first spooled to disk and checked entry by entry, so that an archive that would
// be refused leaves nothing written.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants as fsConstants, createReadStream, createWriteStream, type BigIntStats } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, readFile, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { ApiError, badParameter, notFound, serverError } from '../errdefs/errors.js';
import type { ContainerPathStat } from '../wire/types.js';
import { decompressStream } from '../layers/decompress.js';
import type { ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';
import { parseGroup, parsePasswd } from './user.js';
import { drained } from '../util/streams.js';

// ---- Go's path semantics (path/filepath on Unix, moby's archive path helpers) ------------------

/** Go's filepath.Clean. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
      continue;
    }
    parts.push(part);
  }
  const joined = parts.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's filepath.Join: the non-empty elements joined with "/" and cleaned. */
export function joinPath(...elements: string[]): string {
  const present = elements.filter((element) => element !== '');
  return present.length === 0 ? '' : cleanPath(present.join('/'));
}

/** Go's filepath.Dir. */
export function dirName(path: string): string {
  return cleanPath(path.slice(0, path.lastIndexOf('/') + 1));
}

/** Go's filepath.Base. */
export function baseName(path: string): string {
  if (path === '') return '.';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

export function hasTrailingSeparator(path: string): boolean {
  return path.endsWith('/');
}

/** The last element is ".". */
export function specifiesCurrentDir(path: string): boolean {
  return baseName(path) === '.';
}

/** Ends with "/" or "/.": the path must be a directory. */
export function assertsDirectory(path: string): boolean {
  return hasTrailingSeparator(path) || specifiesCurrentDir(path);
}

/** Puts back the "/." or "/" that cleaning `original` removed. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let result = cleaned;
  if (!specifiesCurrentDir(result) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(result)) result += '/';
    result += '.';
  }
  if (!hasTrailingSeparator(result) && hasTrailingSeparator(original)) result += '/';
  return result;
}

/** [directory, entry] of a path, keeping a final "." as the entry. */
export function splitPathDirEntry(path: string): [string, string] {
  let cleaned = cleanPath(path);
  if (specifiesCurrentDir(path)) cleaned += '/.';
  return [dirName(cleaned), baseName(cleaned)];
}

/** [resolved path with the trailing "/" or "/." of `path`, the name to give the copy ("" to keep it)]. */
export function getRebaseName(path: string, resolvedPath: string): [string, string] {
  let resolved = resolvedPath;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(resolved)) resolved += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(resolved)) resolved += '/';
  return [resolved, baseName(path) !== baseName(resolved) ? baseName(path) : ''];
}

/** The absolute container path the API works on: "/" joined, cleaned, its "/" or "/." kept. */
export function containerAbsPath(path: string): string {
  return preserveTrailingDotOrSeparator(cleanPath(`/${path}`), path);
}

// ---- errors worded as Go's os.PathError -------------------------------------------------------------

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied', EBUSY: 'device or resource busy', EEXIST: 'file exists', EINVAL: 'invalid argument',
  EISDIR: 'is a directory', ELOOP: 'too many levels of symbolic links', ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on device', ENOTDIR: 'not a directory', ENOTEMPTY: 'directory not empty',
  EPERM: 'operation not permitted', EROFS: 'read-only file system', EXDEV: 'invalid cross-device link',
};

/** "lstat /etc/x: no such file or directory": the path is the one the user knows (in the container). */
export class PathError extends Error {
  constructor(readonly op: string, readonly path: string, readonly code: string) {
    super(`${op} ${path}: ${ERRNO_TEXT[code] ?? code.toLowerCase()}`);
  }
}

/** Runs a file-system call on a host path, rewording its error with the user's path. */
async function onPath<T>(op: string, path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof PathError || !code) throw error;
    throw new PathError(op, path, code);
  }
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof PathError ? error.code : (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Go's %q for the ASCII names these messages carry. */
function quote(text: string): string {
  return JSON.stringify(text);
}

// ---- resolution in scope --------------------------------------------------------------------------------

export type EntryKind = 'directory' | 'symlink' | 'other';

/** What the resolver needs from a file system; paths are absolute and clean, inside the scope. */
export interface ScopeFs {
  /** lstat: undefined when the entry does not exist; other failures (ENOTDIR...) throw. */
  kind(path: string): Promise<EntryKind | undefined>;
  readlink(path: string): Promise<string>;
}

/** The kernel's limit (MAXSYMLINKS): more links than this along one path is a loop. */
const MAX_SYMLINKS = 40;

/**
 * `path` (absolute, inside the scope) with every symlink along it followed, the last one too,
 * as if the scope's root were "/": an absolute link target restarts at the root, ".." never goes
 * above it. Components that do not exist are kept as they are (moby's FollowSymlinkInScope).
 */
export async function followSymlinkInScope(path: string, fs: ScopeFs): Promise<string> {
  let rest = cleanPath(`/${path}`);
  // Resolved components so far, each followed by "/": never a symlink, never "..".
  let resolved = '';
  let links = 0;
  while (rest !== '') {
    const slash = rest.indexOf('/');
    const part = slash === -1 ? rest : rest.slice(0, slash);
    rest = slash === -1 ? '' : rest.slice(slash + 1);
    if (part === '') continue;
    const candidate = cleanPath(`/${resolved}${part}`);
    if (candidate === '/') {
      resolved = '';
      continue;
    }
    if ((await fs.kind(candidate)) !== 'symlink') {
      resolved = `${candidate.slice(1)}/`;
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new PathError('lstat', path, 'ELOOP');
    const target = await fs.readlink(candidate);
    if (target.startsWith('/')) resolved = '';
    rest = `${target}/${rest}`;
  }
  return cleanPath(`/${resolved}`);
}

/**
 * Where `absPath` lives, resolved in scope: every directory along it followed; the last
 * component followed too when `followFinal` or when the path asserts a directory ("x/", "x/."),
 * as the kernel does for lstat.
 */
export async function resolveInScope(absPath: string, fs: ScopeFs, followFinal = false): Promise<string> {
  if (followFinal || assertsDirectory(absPath)) return followSymlinkInScope(absPath, fs);
  const clean = cleanPath(absPath);
  if (clean === '/') return '/';
  return joinPath(await followSymlinkInScope(dirName(clean), fs), baseName(clean));
}

/** A root directory on this host seen as a scope: in-scope "/a/b" is `${root}/a/b`. */
export function rootScopeFs(root: string): ScopeFs {
  const host = (path: string) => hostPathIn(root, path);
  return {
    async kind(path) {
      try {
        const stats = await lstat(host(path));
        return stats.isSymbolicLink() ? 'symlink' : stats.isDirectory() ? 'directory' : 'other';
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return undefined;
        throw new PathError('lstat', path, errnoOf(error) ?? 'EIO');
      }
    },
    readlink: (path) => onPath('readlink', path, () => readlink(host(path))),
  };
}

function hostPathIn(root: string, scopePath: string): string {
  return scopePath === '/' ? root : `${root}${scopePath}`;
}

// ---- stat ---------------------------------------------------------------------------------------------

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_NAMED_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHAR_DEVICE = 2 ** 21;
const MODE_STICKY = 2 ** 20;
const MODE_IRREGULAR = 2 ** 19;

/** The Unix st_mode as Go's os.FileMode (what the stat header carries). */
export function goFileMode(mode: number): number {
  let result = mode & 0o777;
  switch (mode & 0o170000) {
    case 0o040000: result += MODE_DIR; break;
    case 0o120000: result += MODE_SYMLINK; break;
    case 0o060000: result += MODE_DEVICE; break;
    case 0o020000: result += MODE_DEVICE + MODE_CHAR_DEVICE; break;
    case 0o010000: result += MODE_NAMED_PIPE; break;
    case 0o140000: result += MODE_SOCKET; break;
    default: break;
  }
  if (mode & 0o4000) result += MODE_SETUID;
  if (mode & 0o2000) result += MODE_SETGID;
  if (mode & 0o1000) result += MODE_STICKY;
  return result;
}

const hasBit = (mode: number, bit: number) => Math.floor(mode / bit) % 2 === 1;
/** Go's FileMode.IsDir. */
export const isGoDir = (mode: number) => hasBit(mode, MODE_DIR);
export const isGoSymlink = (mode: number) => hasBit(mode, MODE_SYMLINK);
/** What the docker CLI refuses as a copy destination (ValidateOutputPathFileMode). */
export function goModeProblem(mode: number): string | undefined {
  if (hasBit(mode, MODE_DEVICE)) return 'got a device';
  if (hasBit(mode, MODE_IRREGULAR)) return 'got an irregular file';
  return undefined;
}

/** Go's time.Time JSON (RFC 3339, nanoseconds without trailing zeros), in UTC. */
export function formatGoTimeNs(ns: bigint): string {
  const billion = 1_000_000_000n;
  let seconds = ns / billion;
  let nanos = ns % billion;
  if (nanos < 0n) {
    nanos += billion;
    seconds -= 1n;
  }
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = nanos === 0n ? '' : `.${nanos.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${base}${fraction}Z`;
}

/** The X-Docker-Container-Path-Stat header value. */
export function encodePathStat(stat: ContainerPathStat): string {
  const { name, size, mode, mtime, linkTarget } = stat;
  return Buffer.from(JSON.stringify({ name, size, mode, mtime, linkTarget })).toString('base64');
}

export function decodePathStat(header: string): ContainerPathStat {
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ContainerPathStat;
}

interface Located {
  /** In-scope path of the entry (its last component followed only when asserted a directory). */
  resolved: string;
  host: string;
  stats: BigIntStats;
}

/** lstat of a container path in a root, the kernel's way (ENOENT, ENOTDIR as PathErrors on `absPath`). */
async function locate(root: string, absPath: string): Promise<Located> {
  const fs = rootScopeFs(root);
  const resolved = await resolveInScope(absPath, fs).catch((error: unknown) => {
    // The kernel names the whole path in its error, not the component that failed.
    throw error instanceof PathError ? new PathError('lstat', absPath, error.code) : error;
  });
  const host = hostPathIn(root, resolved);
  const stats = await onPath('lstat', absPath, () => lstat(host, { bigint: true }));
  if (assertsDirectory(absPath) && !stats.isDirectory()) throw new PathError('lstat', absPath, 'ENOTDIR');
  return { resolved, host, stats };
}

/** The stat header's content for a container path (`name` as the caller words it). */
export async function statInRoot(root: string, absPath: string, name: string): Promise<ContainerPathStat & { host: string }> {
  const { resolved, host, stats } = await locate(root, absPath);
  const linkTarget = stats.isSymbolicLink() ? await followSymlinkInScope(resolved, rootScopeFs(root)) : '';
  return { name, size: Number(stats.size), mode: goFileMode(Number(stats.mode)), mtime: formatGoTimeNs(stats.mtimeNs), linkTarget, host };
}

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
 */
export function packPath(hostPath: string, topName: string): Readable {
  const pack = quiet(tarStream.pack());
  const output = Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
  const seen = new Map<string, string>();
  void (async () => {
    await addTree(pack, hostPath, topName, seen, true);
    pack.finalize();
  })().catch((error: unknown) => { output.destroy(error as Error); });
  return output;
}

async function addTree(pack: tarStream.Pack, hostPath: string, name: string, seen: Map<string, string>, top: boolean): Promise<void> {
  let stats: BigIntStats;
  try {
    stats = await lstat(hostPath, { bigint: true });
  } catch (error) {
    // moby skips what vanished while it walked (a running container changes under it).
    if (!top) return;
    throw error;
  }
  if (stats.isSocket()) return;
  const header = headerFor(stats, name);
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
  if (!stats.isDirectory()) return;
  let children: string[];
  try {
    children = (await readdir(hostPath)).sort();
  } catch {
    return;
  }
  for (const child of children) {
    await addTree(pack, `${hostPath}/${child}`, `${name}/${child}`, seen, false);
  }
}

function headerFor(stats: BigIntStats, name: string): TarHeader {
  const mode = Number(stats.mode);
  const uid = Number(stats.uid);
  const gid = Number(stats.gid);
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

// ---- extracting -----------------------------------------------------------------------------------------

/** Where untar writes: a container's root, or the local file system. Paths are absolute and clean. */
export interface FileScope {
  /** The host path of the directory `path`, every symlink along it followed inside the scope. */
  directory(path: string): Promise<string>;
  /** mkdir -p in the scope; new directories get `owner` when given. */
  mkdirAll(path: string, owner?: Owner): Promise<void>;
}

export interface Owner { uid: number; gid: number }

/** The host path of `path` in `scope`: its directories resolved, its last component as it is. */
export async function scopeHostPath(scope: FileScope, path: string, directories?: Map<string, string>): Promise<string> {
  const clean = cleanPath(path);
  if (clean === '/') return scope.directory('/');
  const dir = dirName(clean);
  let host = directories?.get(dir);
  if (host === undefined) {
    host = await scope.directory(dir);
    directories?.set(dir, host);
  }
  return `${host === '/' ? '' : host}/${baseName(clean)}`;
}

/** The local file system: the kernel resolves paths; nothing to contain. */
export const LOCAL_SCOPE: FileScope = {
  directory: async (path) => path,
  mkdirAll: async (path) => {
    await onPath('mkdir', path, () => mkdir(path, { recursive: true, mode: 0o755 }));
  },
};

/** A container's root filesystem: every path resolved inside it, never leaving it. */
export class RootScope implements FileScope {
  private readonly fs: ScopeFs;

  constructor(readonly root: string) {
    this.fs = rootScopeFs(root);
  }

  async directory(path: string): Promise<string> {
    return hostPathIn(this.root, await followSymlinkInScope(path, this.fs));
  }

  async mkdirAll(path: string, owner?: Owner): Promise<void> {
    const resolved = await followSymlinkInScope(path, this.fs);
    const kind = await this.fs.kind(resolved);
    if (kind === 'directory') return;
    if (kind !== undefined) throw new PathError('mkdir', path, 'ENOTDIR');
    await this.mkdirAll(dirName(resolved), owner);
    const host = hostPathIn(this.root, resolved);
    try {
      await mkdir(host, 0o755);
    } catch (error) {
      if (errnoOf(error) === 'EEXIST') return;
      throw new PathError('mkdir', path, errnoOf(error) ?? 'EIO');
    }
    if (owner) await onPath('lchown', path, () => lchown(host, owner.uid, owner.gid));
  }

  /** Reads a file of the container (following its symlinks in scope); undefined when absent. */
  async readFile(path: string): Promise<string | undefined> {
    try {
      return await readFile(await this.directory(path), 'utf8');
    } catch {
      return undefined;
    }
  }
}

export interface UntarOptions {
  /** Refuse to replace a directory with a non-directory and the other way round. */
  noOverwriteDirNonDir: boolean;
  /** Leave owners as the extracting user (the CLI's side). */
  noLchown: boolean;
  /** Owner of every entry instead of the archive's (cp -a into a container with a User). */
  chown?: Owner;
}

/** Docker names a directory's entries in cleaned form; "." is the target itself. */
function entryPath(dest: string, name: string): string {
  const path = joinPath(dest, name);
  if (!isInside(dest, path)) throw new Error(`${quote(name)} is outside of ${quote(dest)}`);
  return path;
}

function isInside(dest: string, path: string): boolean {
  return dest === '/' || path === dest || path.startsWith(`${dest}/`);
}

/** The checks moby makes of an entry before it writes anything: name, symlink and hard link targets, type. */
function checkEntry(dest: string, header: TarHeader): string {
  const path = entryPath(dest, cleanPath(header.name));
  const linkname = header.linkname ?? '';
  if (header.type === 'symlink' && !isInside(dest, joinPath(dirName(path), linkname))) {
    throw new Error(`invalid symlink ${quote(path)} -> ${quote(linkname)}`);
  }
  if (header.type === 'link' && !isInside(dest, joinPath(dest, linkname))) {
    throw new Error(`invalid hardlink ${quote(joinPath(dest, linkname))} -> ${quote(linkname)}`);
  }
  if (!SUPPORTED_TYPES.has(header.type ?? 'file')) throw new Error(`unhandled tar header type ${header.type}`);
  return path;
}

const SUPPORTED_TYPES = new Set(['file', 'contiguous-file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);

function overwriteConflict(path: string, dest: string, existingIsDir: boolean, entryIsDir: boolean): Error | undefined {
  if (existingIsDir && !entryIsDir) return new Error(`cannot overwrite directory ${quote(path)} with non-directory ${quote(dest)}`);
  if (!existingIsDir && entryIsDir) return new Error(`cannot overwrite non-directory ${quote(path)} with directory ${quote(dest)}`);
  return undefined;
}

async function lstatOrUndefined(host: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(host, { bigint: true });
  } catch {
    return undefined;
  }
}

/**
 * Reads a whole archive and throws what extracting it into `dest` would refuse (entries or
 * links leaving it, unknown types, directory/non-directory clashes), writing nothing.
 */
export async function checkArchive(entries: AsyncIterable<TarEntry>, dest: string, scope: FileScope, options: UntarOptions): Promise<void> {
  const target = cleanPath(dest);
  const written = new Map<string, boolean>();
  for await (const { header } of entries) {
    const path = checkEntry(target, header);
    const entryIsDir = header.type === 'directory';
    if (options.noOverwriteDirNonDir) {
      const existingIsDir = written.has(path) ? written.get(path) : (await lstatOrUndefined(await scopeHostPath(scope, path)))?.isDirectory();
      const conflict = existingIsDir === undefined ? undefined : overwriteConflict(path, target, existingIsDir, entryIsDir);
      if (conflict) throw conflict;
    }
    written.set(path, entryIsDir);
  }
}

/** Extracts `entries` into the directory `dest` of `scope`, as moby's archive.Untar does. */
export async function untar(entries: AsyncIterable<TarEntry>, dest: string, scope: FileScope, options: UntarOptions): Promise<void> {
  const target = cleanPath(dest);
  // Resolved directories, forgotten whenever an entry could change how a path resolves.
  const resolvedDirectories = new Map<string, string>();
  const hostOf = (path: string) => scopeHostPath(scope, path, resolvedDirectories);
  const directories: Array<{ host: string; header: TarHeader }> = [];
  for await (const { header, body } of entries) {
    const name = cleanPath(header.name);
    const path = checkEntry(target, header);
    if (name !== '/') {
      const parent = dirName(path);
      if (!(await lstatOrUndefined(await hostOf(parent)))) await scope.mkdirAll(parent, options.noLchown ? undefined : { uid: 0, gid: 0 });
    }
    const host = await hostOf(path);
    const existing = await lstatOrUndefined(host);
    const entryIsDir = header.type === 'directory';
    if (existing) {
      const conflict = options.noOverwriteDirNonDir ? overwriteConflict(path, target, existing.isDirectory(), entryIsDir) : undefined;
      if (conflict) throw conflict;
      if (existing.isDirectory() && name === '.') continue;
      if (!(existing.isDirectory() && entryIsDir)) {
        await onPath('unlinkat', path, () => rm(host, { recursive: true, force: true }));
        resolvedDirectories.clear();
      }
    }
    if (header.type === 'symlink') resolvedDirectories.clear();
    await createEntry(hostOf, target, path, host, header, body, existing?.isDirectory() === true && entryIsDir, options);
    if (entryIsDir) directories.push({ host, header });
  }
  // Directory times last: creating entries inside them changed them.
  for (const { host, header } of directories) {
    const [atime, mtime] = entryTimes(header);
    await utimes(host, atime, mtime);
  }
}

async function createEntry(
  hostOf: (path: string) => Promise<string>, dest: string, path: string, host: string, header: TarHeader, body: AsyncIterable<Buffer>,
  directoryExists: boolean, options: UntarOptions,
): Promise<void> {
  const mode = (header.mode ?? 0o644) & 0o7777;
  const linkname = header.linkname ?? '';
  let changesTarget = true;
  switch (header.type ?? 'file') {
    case 'directory':
      if (!directoryExists) await onPath('mkdir', path, () => mkdir(host, mode & 0o777));
      break;
    case 'file':
    case 'contiguous-file':
      await writeBody(path, host, mode, body);
      break;
    case 'symlink':
      await onPath('symlink', path, () => symlink(linkname, host));
      changesTarget = false;
      break;
    case 'link': {
      const targetHost = await hostOf(joinPath(dest, linkname));
      await onPath('link', path, () => link(targetHost, host));
      changesTarget = (await lstatOrUndefined(targetHost))?.isSymbolicLink() !== true;
      break;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo':
      await makeNode(path, host, header, mode);
      break;
    default:
      throw new Error(`unhandled tar header type ${header.type}`);
  }
  if (!options.noLchown) {
    const uid = Number(header.pax?.uid ?? header.uid ?? 0);
    const gid = Number(header.pax?.gid ?? header.gid ?? 0);
    const owner = options.chown ?? { uid, gid };
    try {
      await lchown(host, owner.uid, owner.gid);
    } catch (error) {
      throw new Error(`failed to Lchown ${quote(path)} for UID ${uid}, GID ${gid}: ${new PathError('lchown', path, errnoOf(error) ?? 'EIO').message}`);
    }
  }
  if (!changesTarget) {
    if (header.type === 'symlink') {
      const [atime, mtime] = entryTimes(header);
      await lutimes(host, atime, mtime).catch(() => undefined);
    }
    return;
  }
  // After the chown, which clears set-id bits.
  await onPath('chmod', path, () => chmod(host, mode));
  const [atime, mtime] = entryTimes(header);
  await onPath('chtimes', path, () => utimes(host, atime, mtime));
}

async function writeBody(path: string, host: string, mode: number, body: AsyncIterable<Buffer>): Promise<void> {
  const file = await onPath('open', path, () =>
    open(host, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode & 0o777));
  try {
    for await (const chunk of body) await file.write(chunk);
  } finally {
    await file.close();
  }
}

async function makeNode(path: string, host: string, header: TarHeader, mode: number): Promise<void> {
  const args = header.type === 'fifo'
    ? ['-m', (mode & 0o777).toString(8), host, 'p']
    : ['-m', (mode & 0o777).toString(8), host, header.type === 'block-device' ? 'b' : 'c', String(header.devmajor ?? 0), String(header.devminor ?? 0)];
  const child = spawn('mknod', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`mknod ${path}: ${stderr.trim() || `exit status ${code}`}`);
}

/** [atime, mtime] in seconds: the later of the two for atime, as moby sets them. */
function entryTimes(header: TarHeader): [number, number] {
  const mtime = header.pax?.mtime !== undefined ? Number(header.pax.mtime) : (header.mtime?.getTime() ?? 0) / 1000;
  const atime = header.pax?.atime !== undefined ? Math.max(Number(header.pax.atime), mtime) : mtime;
  return [atime, mtime];
}

// ---- the daemon's backend ---------------------------------------------------------------------------------

export interface ExtractRequest {
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

/** What the archive routes call; every failure is an ApiError worded as Docker's. */
export class ContainerFiles {
  constructor(private readonly containers: ContainerService) {}

  /** HEAD /containers/{id}/archive. */
  async stat(reference: string, path: string): Promise<ContainerPathStat> {
    const record = this.containers.get(reference);
    return this.containers.withRootfs(record, async (rootfs) => {
      const { host: _host, ...stat } = await statInRoot(rootfs, containerAbsPath(path), baseName(path)).catch((error: unknown) => {
        throw apiErrorFor(error, path, reference);
      });
      return stat;
    });
  }

  /** GET /containers/{id}/archive: `send` streams the tar while the root stays mounted. */
  async archive(reference: string, path: string, send: (stat: ContainerPathStat, tar: Readable) => Promise<void>): Promise<void> {
    const record = this.containers.get(reference);
    await this.containers.withRootfs(record, async (rootfs) => {
      const absPath = containerAbsPath(path);
      const { host, ...stat } = await statInRoot(rootfs, absPath, baseName(absPath)).catch((error: unknown) => {
        throw apiErrorFor(error, path, reference);
      });
      this.containers.publishEvent(record, 'archive-path');
      await send(stat, packPath(host, baseName(absPath) === '/' ? '' : baseName(absPath)));
    });
  }

  /** PUT /containers/{id}/archive: `body` (a tar, maybe compressed) extracted into the directory `path`. */
  async extract(reference: string, path: string, request: ExtractRequest, body: Readable): Promise<void> {
    const record = this.containers.get(reference);
    await this.containers.withRootfs(record, async (rootfs) => {
      const scope = new RootScope(rootfs);
      const absPath = containerAbsPath(path);
      let dest: string;
      try {
        dest = await followSymlinkInScope(absPath, rootScopeFs(rootfs));
        const stats = await onPath('lstat', absPath, () => lstat(hostPathIn(rootfs, dest)));
        if (!stats.isDirectory()) throw badParameter('extraction point is not a directory');
      } catch (error) {
        throw apiErrorFor(error, path, reference);
      }
      if (record.hostConfig.ReadonlyRootfs) throw badParameter('container rootfs is marked read-only');
      const owner = request.copyUIDGID ? await copyOwner(record, scope) : undefined;
      const options: UntarOptions = { noOverwriteDirNonDir: request.noOverwriteDirNonDir, noLchown: false, chown: owner };
      const spool = join(this.containers.paths(record).directory, `.upload-${randomBytes(8).toString('hex')}.tar`);
      try {
        await pipeline(Readable.from(await decompressStream(body)), createWriteStream(spool, { mode: 0o600 }));
        await checkArchive(readTar(createReadStream(spool)), dest, scope, options);
        await untar(readTar(createReadStream(spool)), dest, scope, options);
      } catch (error) {
        throw apiErrorFor(error, path, reference);
      } finally {
        await rm(spool, { force: true });
      }
    });
    this.containers.publishEvent(record, 'extract-to-dir');
  }

  /** GET /containers/{id}/export: the whole root filesystem as a tar (GNU tar, names relative). */
  async export(reference: string, send: (tar: Readable) => Promise<void>): Promise<void> {
    const record = this.containers.get(reference);
    await this.containers.withRootfs(record, async (rootfs) => {
      await send(await tarRootfs(rootfs));
    });
    this.containers.publishEvent(record, 'export');
  }
}

/** Docker's wording: a missing path is 404 naming the path and the container as the user gave them. */
function apiErrorFor(error: unknown, path: string, reference: string): ApiError {
  if (error instanceof ApiError) return error;
  if (errnoOf(error) === 'ENOENT') return notFound(`Could not find the file ${path} in container ${reference}`);
  return serverError(error instanceof Error ? error.message : String(error));
}

/** cp -a: the container's User (name or id, optional group) as uid/gid from its own passwd/group. */
async function copyOwner(record: ContainerRecord, scope: RootScope): Promise<Owner | undefined> {
  const user = record.config.User ?? '';
  if (user === '') return undefined;
  const [userPart = '', groupPart = ''] = user.split(':');
  const numeric = (text: string) => (/^\d+$/.test(text) && Number(text) <= 2 ** 31 - 1 ? Number(text) : undefined);
  let uid = 0;
  let gid = 0;
  if (userPart !== '') {
    const passwd = parsePasswd((await scope.readFile('/etc/passwd')) ?? '');
    const id = numeric(userPart);
    const entry = passwd.find((candidate) => (id === undefined ? candidate.name === userPart : candidate.uid === id));
    if (entry) [uid, gid] = [entry.uid, entry.gid];
    else if (id !== undefined) uid = id;
    else throw badParameter(`failed to look up user ${quote(userPart)} in container: no matching entries in passwd file`);
  }
  if (groupPart !== '') {
    const id = numeric(groupPart);
    if (id !== undefined) {
      gid = id;
    } else {
      const entry = parseGroup((await scope.readFile('/etc/group')) ?? '').find((candidate) => candidate.name === groupPart);
      if (!entry) throw badParameter(`failed to look up group ${quote(groupPart)} in container: no matching entries in group file`);
      gid = entry.gid;
    }
  }
  return { uid, gid };
}

/**
 * GNU tar of a root filesystem: entries named relative to it ("bin/", "bin/sh"), numeric owners,
 * security.capability kept, plain ustar unless a name or an xattr needs PAX. Exit status 1
 * (a file changed while read: the container runs) is not a failure.
 */
async function tarRootfs(rootfs: string): Promise<Readable> {
  const names = (await readdir(rootfs)).sort();
  const tar = spawn('tar', [
    '--create', '--numeric-owner', '--sort=name', '--xattrs', '--xattrs-include=security.capability',
    '--pax-option=delete=atime,delete=ctime,delete=mtime', '-C', rootfs, '--null', '--verbatim-files-from', '--files-from=-',
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.setEncoding('utf8').on('data', (text: string) => { if (stderr.length < 4096) stderr += text; });
  tar.on('error', (error) => tar.stdout.destroy(error));
  tar.stdin.on('error', () => undefined);
  tar.stdin.end(names.map((name) => `${name}\0`).join(''));
  tar.on('close', (code) => {
    if (code !== null && code > 1) tar.stdout.destroy(new Error(`tar: ${stderr.trim() || `exit status ${code}`}`));
  });
  tar.stdout.on('close', () => { if (tar.exitCode === null) tar.kill('SIGKILL'); });
  return tar.stdout;
}
