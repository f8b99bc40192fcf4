// The layer store: unpacked layers, each an overlay lowerdir, identified by chain ID.
//
// Lifecycle of a layer:
//   apply  - a (possibly compressed) tar stream is unpacked by GNU tar into <root>/tmp/<random>/diff
//            while its diff ID (sha256 of the plain tar) is computed and a parallel tar-stream
//            parse collects the AUFS whiteouts; those are then turned into overlay whiteouts
//            (0:0 character devices, trusted.overlay.opaque=y); meta.json and the short link name
//            are written, and the directory is renamed to <root>/<chain-hex>: a layer directory
//            exists complete or not at all;
//   use    - lowerDirs() gives the short "l/<id>" names, top layer first, for overlay mounts;
//   remove - only when no other layer sits on top of it (the image service removes top first).
// An identical layer (same chain ID) is stored once: applying it again returns the existing one.
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { chmod, lchown, lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, symlink, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { syncDirectory, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { drained } from '../util/streams.js';
import { type IdMappings, shiftOwner } from '../util/id-mappings.js';
import { decompressStream } from './decompress.js';
import { LayerLeases, type Lease } from './leases.js';

export interface LayerInfo {
  /** "sha256:<hex>" of the uncompressed tar. */
  diffId: string;
  /** "sha256:<hex>": diffId for a base layer, else sha256(parentChainId + " " + diffId). */
  chainId: string;
  parent: string | null;
  /** Bytes of the regular files (and symlink targets) in the layer, as Docker's directory size counts them. */
  size: number;
  /** Name of the link under <root>/l/ pointing at this layer's diff directory. */
  shortId: string;
}

const CHAIN_ID_PATTERN = /^sha256:([a-f0-9]{64})$/;
const SHORT_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const AUFS_META_PREFIX = '.wh..wh.';
const SHELL_BATCH = 256;

export class LayerInUseError extends Error {}
export class UnknownLayerError extends Error {}

export function chainIdOf(parentChainId: string | null, diffId: string): string {
  if (parentChainId === null) return diffId;
  return `sha256:${createHash('sha256').update(`${parentChainId} ${diffId}`).digest('hex')}`;
}

/** Chain IDs of every prefix of the diff ID list: chain[i] identifies layers 0..i. */
export function chainIdsOf(diffIds: readonly string[]): string[] {
  const chain: string[] = [];
  let parent: string | null = null;
  for (const diffId of diffIds) {
    parent = chainIdOf(parent, diffId);
    chain.push(parent);
  }
  return chain;
}

function hexOf(chainId: string): string {
  const match = CHAIN_ID_PATTERN.exec(chainId);
  if (!match) throw new UnknownLayerError(`invalid chain ID: ${chainId}`);
  return match[1]!;
}

function newShortId(): string {
  let id = '';
  for (let i = 0; i < 26; i++) id += SHORT_ID_ALPHABET[randomInt(SHORT_ID_ALPHABET.length)];
  return id;
}

interface TarScan {
  diffId: string;
  size: number;
  /** Paths (relative, normalised) that a ".wh.NAME" entry deletes. */
  whiteouts: string[];
  /** Directories (relative; "." for the root) marked opaque by ".wh..wh..opq". */
  opaqueDirs: string[];
  /** AUFS metadata entries (".wh..wh.plnk" and the like) to drop. */
  aufsMeta: string[];
}

export class LayerStore {
  private readonly layers = new Map<string, LayerInfo>();
  /** Layers in-flight pulls, loads and imports use: remove refuses them. */
  readonly leases = new LayerLeases();
  private readonly tmpDir: string;
  private readonly linksDir: string;

  /** `idMappings` (--userns-remap): every unpacked file's owner is moved to the host IDs the containers' IDs map to. */
  constructor(readonly root: string, private readonly idMappings?: IdMappings) {
    this.tmpDir = join(root, 'tmp');
    this.linksDir = join(root, 'l');
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    // Half-applied or half-removed layers from before a crash.
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir);
    await mkdir(this.linksDir, { recursive: true });
    await mkdir(this.emptyDir(), { recursive: true });
    this.layers.clear();
    for (const name of await readdir(this.root)) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const meta = await readMeta(join(this.root, name, 'meta.json'));
      if (!meta || meta.chainId !== `sha256:${name}`) {
        await rm(join(this.root, name), { recursive: true, force: true });
        continue;
      }
      this.layers.set(meta.chainId, meta);
    }
    const knownLinks = new Set<string>();
    for (const layer of this.layers.values()) {
      knownLinks.add(layer.shortId);
      await this.ensureLink(layer);
    }
    for (const link of await readdir(this.linksDir)) {
      if (!knownLinks.has(link)) await rm(join(this.linksDir, link), { force: true });
    }
  }

  /** An empty directory, usable as the lowerdir of an image without layers. Relative to root: "empty". */
  emptyDir(): string {
    return join(this.root, 'empty');
  }

  get(chainId: string): LayerInfo | undefined {
    return this.layers.get(chainId);
  }

  list(): LayerInfo[] {
    return [...this.layers.values()];
  }

  /** Absolute path of a layer's unpacked content. */
  diffPath(chainId: string): string {
    return join(this.root, hexOf(chainId), 'diff');
  }

  /** Short lowerdir names ("l/<short>") of the layer and its ancestors, top first, relative to root. */
  lowerDirs(chainId: string): string[] {
    const dirs: string[] = [];
    let current: string | null = chainId;
    while (current !== null) {
      const layer = this.layers.get(current);
      if (!layer) throw new UnknownLayerError(`layer ${current} does not exist`);
      dirs.push(`l/${layer.shortId}`);
      current = layer.parent;
    }
    return dirs;
  }

  /**
   * Unpacks `tar` (plain or compressed) as a layer on top of `parentChainId`. With `lease`, the
   * layer joins it in the same turn it becomes visible, before any remover can see it.
   */
  async apply(parentChainId: string | null, tar: Readable, lease?: Lease): Promise<LayerInfo> {
    if (parentChainId !== null && !this.layers.has(parentChainId)) {
      tar.destroy();
      throw new UnknownLayerError(`parent layer ${parentChainId} does not exist`);
    }
    const workDir = join(this.tmpDir, randomBytes(12).toString('hex'));
    const diffDir = join(workDir, 'diff');
    try {
      await mkdir(diffDir, { recursive: true });
      const scan = await extractTar(await decompressStream(tar), diffDir);
      await convertWhiteouts(diffDir, scan);
      if (this.idMappings) await shiftOwners(diffDir, this.idMappings);
      const chainId = chainIdOf(parentChainId, scan.diffId);
      const existing = this.layers.get(chainId);
      if (existing) {
        lease?.add(chainId);
        await rm(workDir, { recursive: true, force: true });
        return existing;
      }
      const layer: LayerInfo = { diffId: scan.diffId, chainId, parent: parentChainId, size: scan.size, shortId: newShortId() };
      await writeJsonAtomic(join(workDir, 'meta.json'), layer);
      await writeFileAtomic(join(workDir, 'link'), layer.shortId);
      const layerDir = join(this.root, hexOf(chainId));
      try {
        await rename(workDir, layerDir);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        // Another apply of the same layer won the race: use its result.
        await rm(workDir, { recursive: true, force: true });
        const winner = await readMeta(join(layerDir, 'meta.json'));
        if (!winner) throw error;
        this.layers.set(chainId, winner);
        lease?.add(chainId);
        return winner;
      }
      lease?.add(chainId);
      await syncDirectory(this.root);
      await this.ensureLink(layer);
      this.layers.set(chainId, layer);
      return layer;
    } catch (error) {
      tar.destroy();
      await rm(workDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Deletes a layer; refuses while another layer has it as parent. */
  async remove(chainId: string): Promise<void> {
    const layer = this.layers.get(chainId);
    if (!layer) throw new UnknownLayerError(`layer ${chainId} does not exist`);
    if (this.leases.isLeased(chainId)) throw new LayerInUseError(`layer ${chainId} is in use by a pull, load or import`);
    const child = [...this.layers.values()].find((other) => other.parent === chainId);
    if (child) throw new LayerInUseError(`layer ${chainId} is the parent of layer ${child.chainId}`);
    // Renaming first makes the removal atomic: after a crash the leftover is in tmp/ and init drops it.
    const doomed = join(this.tmpDir, `removing-${hexOf(chainId)}-${randomBytes(4).toString('hex')}`);
    await rename(join(this.root, hexOf(chainId)), doomed);
    this.layers.delete(chainId);
    await rm(join(this.linksDir, layer.shortId), { force: true });
    await syncDirectory(this.root);
    await rm(doomed, { recursive: true, force: true });
  }

  private async ensureLink(layer: LayerInfo): Promise<void> {
    const linkPath = join(this.linksDir, layer.shortId);
    const target = `../${hexOf(layer.chainId)}/diff`;
    try {
      if ((await readlink(linkPath)) === target) return;
      await unlink(linkPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await symlink(target, linkPath);
  }
}

async function readMeta(path: string): Promise<LayerInfo | undefined> {
  try {
    const meta = JSON.parse(await readFile(path, 'utf8')) as LayerInfo;
    if (typeof meta.chainId !== 'string' || typeof meta.diffId !== 'string' || typeof meta.shortId !== 'string') return undefined;
    return meta;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}


/**
 * Moves the owners of a layer's files (its root included) from the container's IDs to the
 * host's, as moby unpacks under a remapped root. chown clears set-id bits: the mode is put back.
 */
async function shiftOwners(dir: string, mappings: IdMappings): Promise<void> {
  const shift = async (path: string): Promise<void> => {
    const stats = await lstat(path);
    const owner = shiftOwner(stats, mappings);
    await lchown(path, owner.uid, owner.gid);
    if (!stats.isSymbolicLink() && (stats.mode & 0o6000) !== 0) await chmod(path, stats.mode & 0o7777);
    if (stats.isDirectory()) for (const name of await readdir(path)) await shift(join(path, name));
  };
  await shift(dir);
}

/**
 * Feeds the plain tar bytes to GNU tar (which extracts into `dir`) and to a tar-stream parser
 * (which collects sizes and whiteouts), hashing them on the way.
 */
async function extractTar(plain: AsyncIterable<Buffer>, dir: string): Promise<TarScan> {
  const gnuTar = spawn('tar', [
    '-x', '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=*', '-C', dir,
  ], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  gnuTar.stderr.setEncoding('utf8').on('data', (text: string) => { if (stderr.length < 8192) stderr += text; });
  const tarExit = new Promise<number | null>((resolve, reject) => {
    gnuTar.on('error', reject);
    gnuTar.on('close', (code) => resolve(code));
  });
  tarExit.catch(() => undefined);
  // tar may stop reading after the end-of-archive blocks; later writes then fail with EPIPE,
  // which is harmless: its exit status says whether the extraction succeeded.
  gnuTar.stdin.on('error', () => undefined);

  const scan: TarScan = { diffId: '', size: 0, whiteouts: [], opaqueDirs: [], aufsMeta: [] };
  let parseError: Error | undefined;
  // allowUnknownFormat: old v7 archives have no "ustar" magic; GNU tar takes them, so must we.
  const parser = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
  parser.on('entry', (header, body, next) => {
    const breakout = layerEntryBreakout(header);
    if (breakout) {
      // The entry's body is destroyed with the parser; its error is the parser's.
      body.on('error', () => undefined);
      parser.destroy(new Error(`failed to extract layer: ${breakout}`));
      return;
    }
    recordEntry(scan, header);
    body.on('end', () => next());
    body.resume();
  });
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('finish', resolve);
    parser.on('error', (error: Error) => { parseError = error; reject(error); });
  });
  parsed.catch(() => undefined);

  const hash = createHash('sha256');
  try {
    for await (const chunk of plain) {
      hash.update(chunk);
      if (parseError) throw parseError;
      const tarWants = gnuTar.stdin.writable ? gnuTar.stdin.write(chunk) : true;
      const parserWants = parser.write(chunk);
      // Subscribe to both before waiting: one may drain while we wait for the other.
      const waits: Array<Promise<void>> = [];
      if (!tarWants) waits.push(drained(gnuTar.stdin));
      if (!parserWants) waits.push(drained(parser as unknown as NodeJS.EventEmitter));
      if (waits.length > 0) await Promise.all(waits);
    }
    gnuTar.stdin.end();
    parser.end(undefined);
    await parsed;
    const code = await tarExit;
    if (code !== 0) throw new Error(`failed to extract layer: ${describeTarFailure(stderr, code)}`);
  } catch (error) {
    gnuTar.kill('SIGKILL');
    parser.destroy();
    await tarExit.catch(() => undefined);
    throw error;
  }
  scan.diffId = `sha256:${hash.digest('hex')}`;
  return scan;
}

/**
 * The parts of `path` (relative to the layer's root) after resolving "." and "..", or
 * undefined when it climbs above the root. An absolute path starts again at the root.
 */
function partsInRoot(base: readonly string[], path: string): string[] | undefined {
  const parts = path.startsWith('/') ? [] : [...base];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (parts.pop() === undefined) return undefined;
  }
  return parts;
}

/**
 * Why a layer entry would reach outside the layer, as moby's archive package refuses it
 * (breakoutError), or undefined: a name climbing above the root; a symlink whose relative
 * target climbs above it (an absolute target stays inside: the container resolves it from its
 * own root); a hard link to a path above it. GNU tar would skip or confine some of these; a
 * layer holding them is refused all the same, as Docker refuses it.
 */
export function layerEntryBreakout(header: Pick<tarStream.Header, 'name' | 'type'> & { linkname?: string | null }): string | undefined {
  const name = partsInRoot([], header.name.replace(/^\/+/, ''));
  if (name === undefined) return `${JSON.stringify(header.name)} is outside of "/"`;
  const linkname = header.linkname ?? '';
  if (header.type === 'symlink' && !linkname.startsWith('/') && partsInRoot(name.slice(0, -1), linkname) === undefined) {
    return `invalid symlink ${JSON.stringify(`/${name.join('/')}`)} -> ${JSON.stringify(linkname)}`;
  }
  if (header.type === 'link' && partsInRoot([], linkname.replace(/^\/+/, '')) === undefined) {
    return `invalid hardlink ${JSON.stringify(`/${name.join('/')}`)} -> ${JSON.stringify(linkname)}`;
  }
  return undefined;
}

const NO_SPACE = 'no space left on device';

/**
 * What GNU tar's failure means, in Docker's words where they differ: a short write of a
 * regular file ("Wrote only 512 of 10240 bytes", which tar reports without the errno) is how
 * ENOSPC shows (a file system without space, or a quota): Docker says "write /path: no
 * space left on device".
 */
export function describeTarFailure(stderr: string, code: number | null): string {
  const text = stderr.trim();
  const noSpace = /^tar: (.+): (?:Cannot \w+: No space left on device|Wrote only \d+ of \d+ bytes)$/m.exec(text);
  if (noSpace) return `write /${noSpace[1]}: ${NO_SPACE}`;
  return text || `tar exit status ${code}`;
}

function recordEntry(scan: TarScan, header: tarStream.Header): void {
  if (header.type === 'file' || header.type === 'contiguous-file') scan.size += header.size ?? 0;
  // Docker's layer size counts what lstat reports for every non-directory: a symlink is its target's length.
  else if (header.type === 'symlink') scan.size += Buffer.byteLength(header.linkname ?? '');
  const path = posix.normalize(header.name.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (path === '' || path === '.' || path === '..' || path.startsWith('../')) return;
  const base = posix.basename(path);
  if (!base.startsWith(WHITEOUT_PREFIX)) return;
  const parent = posix.dirname(path);
  if (base === OPAQUE_MARKER) scan.opaqueDirs.push(parent);
  else if (base.startsWith(AUFS_META_PREFIX)) scan.aufsMeta.push(path);
  else scan.whiteouts.push(posix.join(parent, base.slice(WHITEOUT_PREFIX.length)));
}

/** Absolute path of `relative` inside `root`, refusing any parent directory that resolves outside it (symlinks). */
async function insideRoot(root: string, relative: string): Promise<string | undefined> {
  const parent = posix.dirname(relative);
  let realParent: string;
  try {
    realParent = await realpath(join(root, parent));
  } catch {
    return undefined;
  }
  if (realParent !== root && !realParent.startsWith(root + '/')) return undefined;
  return join(realParent, posix.basename(relative));
}

async function convertWhiteouts(diffDir: string, scan: TarScan): Promise<void> {
  if (scan.whiteouts.length === 0 && scan.opaqueDirs.length === 0 && scan.aufsMeta.length === 0) return;
  const root = await realpath(diffDir);
  for (const meta of scan.aufsMeta) {
    const path = await insideRoot(root, meta);
    if (path) await rm(path, { recursive: true, force: true });
  }
  const deviceNodes: string[] = [];
  for (const target of scan.whiteouts) {
    const path = await insideRoot(root, target);
    if (!path) continue;
    await rm(join(posix.dirname(path), WHITEOUT_PREFIX + posix.basename(path)), { force: true });
    await rm(path, { recursive: true, force: true });
    deviceNodes.push(path);
  }
  const opaque: string[] = [];
  for (const dir of scan.opaqueDirs) {
    const marker = await insideRoot(root, posix.join(dir, OPAQUE_MARKER));
    if (!marker) continue;
    await rm(marker, { force: true });
    const dirPath = posix.dirname(marker);
    if ((await lstat(dirPath)).isDirectory()) opaque.push(dirPath);
  }
  for (let i = 0; i < deviceNodes.length; i += SHELL_BATCH) {
    await run('sh', ['-c', 'for p do mknod -m 0 "$p" c 0 0 || exit 1; done', 'sh', ...deviceNodes.slice(i, i + SHELL_BATCH)]);
  }
  for (let i = 0; i < opaque.length; i += SHELL_BATCH) {
    await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', '--', ...opaque.slice(i, i + SHELL_BATCH)]);
  }
}

async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${command}: ${stderr.trim() || `exit status ${code}`}`);
}
