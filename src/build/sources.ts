// COPY and ADD: the checksum of what they copy (the build cache's key: content, names, modes
// and link targets; never times or owners, as Docker's docs say) and the copy itself into a
// step's root filesystem with Docker's rules: a directory's contents go into the destination,
// a file goes to the destination or, when that ends in "/" (or is a directory), below it;
// missing parents are made 0755; --chown and --chmod apply to everything copied; ADD unpacks a
// local tar archive (plain, gzip, bzip2, xz) into the destination instead of copying it.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { baseName, cleanPath, dirName, hostPathIn, followSymlinkInScope, rootScopeFs } from '../archive/path.js';
import { copyDirectoryWithGnuTar, packWithGnuTar } from '../archive/gnu-tar.js';
import { packPath, readTar, type TarEntry } from '../archive/tar.js';
import { RootScope, untar, type Owner } from '../archive/untar.js';
import { decompressStream } from '../layers/decompress.js';

export interface CopySource {
  /** The name it is copied as (its base name). */
  name: string;
  hostPath: string;
  isDirectory: boolean;
  /** Downloaded by ADD: copied as it is, never unpacked. */
  remote?: boolean;
  /** Where its checksum reads it from (the disk when absent). */
  tree?: TreeReader;
}

export interface CopyOptions {
  owner?: Owner;
  /** --chmod, applied to files and directories copied. */
  mode?: number;
  /** ADD: unpack local tar archives. */
  extractArchives: boolean;
}

/** Files up to this size are read whole: a stream per file costs more than the file. */
const SMALL_FILE = 1 << 20;

/** What a checksum needs of a tree: the disk, or the context's index (nothing unpacked). */
export interface TreeReader {
  /** lstat-like: type ("d", "l", "f" or "o"), permission bits, size, link target. */
  stat(hostPath: string): Promise<{ type: 'd' | 'l' | 'f' | 'o'; mode: number; size: number; linkname: string }>;
  children(hostPath: string): Promise<string[]>;
  /** sha256 hex of a regular file's content. */
  fileDigest(hostPath: string, size: number): Promise<string>;
}

export const diskTree: TreeReader = {
  async stat(hostPath) {
    const stats = await lstat(hostPath);
    const type = stats.isDirectory() ? 'd' : stats.isSymbolicLink() ? 'l' : stats.isFile() ? 'f' : 'o';
    return { type, mode: stats.mode & 0o7777, size: stats.size, linkname: type === 'l' ? await readlink(hostPath) : '' };
  },
  children: (hostPath) => readdir(hostPath),
  async fileDigest(hostPath, size) {
    const hash = createHash('sha256');
    if (size <= SMALL_FILE) hash.update(await readFile(hostPath));
    else for await (const chunk of createReadStream(hostPath)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  },
};

/** Docker's source hash in a step's description: "file:<hex>", "dir:<hex>" or "multi:<hex>". */
export async function checksumSources(sources: readonly CopySource[]): Promise<string> {
  const total = createHash('sha256');
  for (const source of sources) total.update(`${source.name}\0${await treeDigest(source.tree ?? diskTree, source.hostPath, '.')}\n`);
  const hex = total.digest('hex');
  if (sources.length !== 1) return `multi:${hex}`;
  return `${sources[0]!.isDirectory ? 'dir' : 'file'}:${hex}`;
}

/** The digest of a path and what is below it (a file by its content's digest); a directory's entries are hashed at the same time. */
async function treeDigest(tree: TreeReader, hostPath: string, name: string): Promise<string> {
  const hash = createHash('sha256');
  const node = await tree.stat(hostPath);
  hash.update(`${name}\0${node.type}\0${node.mode.toString(8)}\0`);
  if (node.type === 'l') hash.update(node.linkname);
  else if (node.type === 'f') hash.update(`${node.size}\0${await tree.fileDigest(hostPath, node.size)}`);
  else if (node.type === 'd') {
    const children = (await tree.children(hostPath)).sort();
    const digests = await Promise.all(children.map((child) => treeDigest(tree, `${hostPath}/${child}`, child)));
    for (const digest of digests) hash.update(`${digest}\n`);
  }
  return hash.digest('hex');
}

/** Copies `sources` to `dest` (absolute, in the step's root) inside `rootfs`. */
export async function copyIntoRoot(rootfs: string, sources: readonly CopySource[], dest: string, options: CopyOptions): Promise<void> {
  const scope = new RootScope(rootfs);
  const destIsDir = dest.endsWith('/') || sources.length > 1 || await isDirectoryInRoot(rootfs, dest);
  const cleanDest = cleanPath(dest);
  for (const source of sources) {
    if (source.isDirectory) {
      const fresh = options.mode === undefined && !await existsInRoot(rootfs, cleanDest);
      await scope.mkdirAll(cleanDest, options.owner ?? { uid: 0, gid: 0 });
      if (fresh) {
        // A new, empty destination: GNU tar copies thousands of files in a fraction of untar's time.
        await copyDirectoryWithGnuTar(source.hostPath, await scope.directory(cleanDest), options.owner ?? { uid: 0, gid: 0 });
        continue;
      }
      await untar(withOptions(readTar(packWithGnuTar(source.hostPath, ['.'], { recursive: true })), options), cleanDest, scope, untarOptions(options));
      continue;
    }
    if (options.extractArchives && !source.remote && await isTarArchive(source.hostPath)) {
      await scope.mkdirAll(cleanDest, options.owner ?? { uid: 0, gid: 0 });
      const plain = Readable.from(await decompressStream(createReadStream(source.hostPath)));
      await untar(withOptions(readTar(plain), options), cleanDest, scope, untarOptions(options));
      continue;
    }
    const target = destIsDir ? cleanPath(`${cleanDest}/${source.name}`) : cleanDest;
    await scope.mkdirAll(dirName(target), { uid: 0, gid: 0 });
    await untar(withOptions(readTar(packPath(source.hostPath, baseName(target))), options), dirName(target), scope, untarOptions(options));
  }
}

function untarOptions(options: CopyOptions) {
  return { noOverwriteDirNonDir: false, noLchown: false, chown: options.owner ?? { uid: 0, gid: 0 } };
}

async function* withOptions(entries: AsyncIterable<TarEntry>, options: CopyOptions): AsyncGenerator<TarEntry> {
  for await (const entry of entries) {
    if (options.mode !== undefined && entry.header.type !== 'symlink') entry.header.mode = options.mode;
    yield entry;
  }
}

/** Whether `path` (symlinks followed in scope) names anything in the root. */
async function existsInRoot(rootfs: string, path: string): Promise<boolean> {
  try {
    const resolved = await followSymlinkInScope(cleanPath(path), rootScopeFs(rootfs));
    await lstat(hostPathIn(rootfs, resolved));
    return true;
  } catch {
    return false;
  }
}

async function isDirectoryInRoot(rootfs: string, path: string): Promise<boolean> {
  try {
    const resolved = await followSymlinkInScope(cleanPath(path), rootScopeFs(rootfs));
    return (await lstat(hostPathIn(rootfs, resolved))).isDirectory();
  } catch {
    return false;
  }
}

/** A tar archive, compressed or not: the (decompressed) first block says "ustar" (what moby's untar would accept). */
export async function isTarArchive(hostPath: string): Promise<boolean> {
  const source = createReadStream(hostPath);
  try {
    let head = Buffer.alloc(0);
    for await (const chunk of await decompressStream(source)) {
      head = Buffer.concat([head, chunk]);
      if (head.length >= 262) break;
    }
    return head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } catch {
    return false;
  } finally {
    source.destroy();
  }
}
