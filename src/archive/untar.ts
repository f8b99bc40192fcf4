// untar() extracts a tar into a directory with the rules of moby's archive.Untar (names cleaned;
// entries, symlinks and hard links that would leave the target refused; existing entries
// replaced; owners, modes and times restored) through a FileScope: a root filesystem resolved
// in scope (RootScope), or the local file system for the CLI's side of `cp`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants as fsConstants, type BigIntStats } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readFile, rm, symlink, utimes } from 'node:fs/promises';
import { baseName, cleanPath, dirName, errnoOf, followSymlinkInScope, hostPathIn, joinPath, onPath, PathError, quote, rootScopeFs, type ScopeFs } from './path.js';
import type { TarEntry, TarHeader } from './tar.js';

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
  /** Moves each owner (the archive's, `chown` or the parents' root) to the host's IDs: a user-namespace remapped root. */
  mapOwner?: (owner: Owner) => Owner;
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
  const root = { uid: 0, gid: 0 };
  const parentOwner = options.noLchown ? undefined : options.mapOwner?.(root) ?? root;
  for await (const { header, body } of entries) {
    const name = cleanPath(header.name);
    const path = checkEntry(target, header);
    if (name !== '/') {
      const parent = dirName(path);
      if (!(await lstatOrUndefined(await hostOf(parent)))) await scope.mkdirAll(parent, parentOwner);
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
    const wanted = options.chown ?? { uid, gid };
    const owner = options.mapOwner ? options.mapOwner(wanted) : wanted;
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
