// Paths as Go and moby treat them (path/filepath on Unix, moby's archive path helpers), and
// paths resolved inside a root as if that root were "/" (moby's FollowSymlinkInScope):
// symlinks, absolute or relative, and ".." are evaluated within the root and never leave it.
// The resolver is pure over a two-call file-system view (ScopeFs), so it is tested without a
// root filesystem.
import { lstat, readlink } from 'node:fs/promises';

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
export async function onPath<T>(op: string, path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof PathError || !code) throw error;
    throw new PathError(op, path, code);
  }
}

export function errnoOf(error: unknown): string | undefined {
  return error instanceof PathError ? error.code : (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Go's %q for the ASCII names these messages carry. */
export function quote(text: string): string {
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

export function hostPathIn(root: string, scopePath: string): string {
  return scopePath === '/' ? root : `${root}${scopePath}`;
}
