// What changed in a container's root filesystem against its image: `docker diff`,
// GET /containers/{id}/changes.
//
// Docker answers with its "naive" diff: both trees walked side by side, an entry added (A),
// deleted (D, only the top of a deleted tree) or modified (C: mode, owner, device, capability,
// and for non-directories size or mtime), and a directory holding changes reported C itself.
// We give the same answers from the writable (upper) layer alone, which is all that can differ:
// overlay whiteouts (0:0 character devices) are deletions, an opaque directory
// (trusted.overlay.opaque=y) hides everything its image counterpart held, and every other
// upper entry is compared with the image's view of the same path (its layers mounted read-only
// for the call). Paths Docker's init layer provides (/etc/hosts and the like, which runc creates
// here as mount points) are part of the base, as they are for Docker.
//
// computeChanges() is pure over an ImageView and a scanned upper tree, for tests.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FilesystemChange } from '../wire/types.js';
import type { ImageService } from '../images/service.js';
import { mountOverlay, unmount } from '../layers/overlay.js';
import type { ContainerService } from './service.js';

export interface FileFacts {
  kind: 'directory' | 'file' | 'symlink' | 'whiteout' | 'other';
  /** st_mode, type bits included. */
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  mtimeNs: bigint;
  /** An upper directory marked opaque: nothing below it comes from the image. */
  opaque?: boolean;
  /** security.capability, hex; undefined when unset. */
  capability?: string;
}

export interface UpperNode {
  name: string;
  facts: FileFacts;
  children: UpperNode[];
}

/** The image's root filesystem, as the container started from it. */
export interface ImageView {
  lookup(path: string): Promise<FileFacts | undefined>;
  list(path: string): Promise<string[]>;
  capability(path: string): Promise<string | undefined>;
}

/** What Docker's init layer holds under every container: never a change of the container's. */
export const INIT_LAYER_PATHS: ReadonlySet<string> = new Set([
  '/dev', '/dev/pts', '/dev/shm', '/dev/console', '/proc', '/sys', '/.dockerenv',
  '/etc', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname', '/etc/mtab',
]);

const MODIFIED = 0;
const ADDED = 1;
const DELETED = 2;

/** The changes, parents before their contents, names in byte order. */
export async function computeChanges(upperRoot: UpperNode[], image: ImageView, basePaths: ReadonlySet<string> = INIT_LAYER_PATHS): Promise<FilesystemChange[]> {
  const changes: FilesystemChange[] = [];
  await diffDirectory('/', upperRoot, image, true, false, basePaths, changes);
  return changes.sort((a, b) => comparePaths(a.Path, b.Path));
}

async function diffDirectory(
  path: string, children: UpperNode[], image: ImageView, inImage: boolean, opaque: boolean,
  basePaths: ReadonlySet<string>, changes: FilesystemChange[],
): Promise<void> {
  const present = new Set<string>();
  for (const child of children) {
    const childPath = path === '/' ? `/${child.name}` : `${path}/${child.name}`;
    if (child.facts.kind === 'whiteout') {
      // In an opaque directory a whiteout hides nothing: the listing below reports deletions.
      if (inImage && !opaque && (await image.lookup(childPath))) changes.push({ Path: childPath, Kind: DELETED });
      continue;
    }
    present.add(child.name);
    const isDir = child.facts.kind === 'directory';
    const old = inImage ? await image.lookup(childPath) : undefined;
    let recorded: boolean;
    let childInImage: boolean;
    if (!old) {
      childInImage = false;
      if (basePaths.has(childPath)) {
        if (!isDir) continue;
        recorded = false;
      } else {
        changes.push({ Path: childPath, Kind: ADDED });
        recorded = true;
      }
    } else {
      childInImage = old.kind === 'directory';
      recorded = statDifferent(old, child.facts) || (!isDir && (await image.capability(childPath)) !== child.facts.capability);
      if (recorded) changes.push({ Path: childPath, Kind: MODIFIED });
    }
    if (!isDir) continue;
    const inner: FilesystemChange[] = [];
    await diffDirectory(childPath, child.children, image, childInImage, child.facts.opaque === true, basePaths, inner);
    if (inner.length > 0 && !recorded) changes.push({ Path: childPath, Kind: MODIFIED });
    changes.push(...inner);
  }
  if (opaque && inImage) {
    for (const name of await image.list(path)) {
      if (!present.has(name)) changes.push({ Path: path === '/' ? `/${name}` : `${path}/${name}`, Kind: DELETED });
    }
  }
}

/** moby's statDifferent; directories' size and mtime are no measure of change. */
export function statDifferent(old: FileFacts, current: FileFacts): boolean {
  if (old.mode !== current.mode || old.uid !== current.uid || old.gid !== current.gid || old.rdev !== current.rdev) return true;
  if (old.kind === 'directory') return false;
  return !sameFsTime(old.mtimeNs, current.mtimeNs) || old.size !== current.size;
}

/** Equal, or the same second with one of them truncated to it (tar keeps whole seconds). */
export function sameFsTime(a: bigint, b: bigint): boolean {
  const billion = 1_000_000_000n;
  return a === b || (a / billion === b / billion && (a % billion === 0n || b % billion === 0n));
}

/** Component by component, so that a directory comes right before what it holds. */
export function comparePaths(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    if (left[index] !== right[index]) return Buffer.compare(Buffer.from(left[index]), Buffer.from(right[index]));
  }
  return left.length - right.length;
}

// ---- the real file systems ------------------------------------------------------------------------------

export function factsOf(stats: BigIntStats): FileFacts {
  const kind = stats.isDirectory() ? 'directory'
    : stats.isFile() ? 'file'
      : stats.isSymbolicLink() ? 'symlink'
        : stats.isCharacterDevice() && stats.rdev === 0n ? 'whiteout' : 'other';
  return {
    kind, mode: Number(stats.mode), uid: Number(stats.uid), gid: Number(stats.gid), rdev: Number(stats.rdev),
    size: Number(stats.size), mtimeNs: stats.mtimeNs,
  };
}

/** The upper directory as a tree, with its opaque markers and capabilities (one getfattr for all). */
export async function scanUpper(upper: string): Promise<UpperNode[]> {
  const attributes = await dumpAttributes(upper);
  const scan = async (dir: string): Promise<UpperNode[]> => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      return [];
    }
    const nodes: UpperNode[] = [];
    for (const name of names) {
      const path = `${dir}/${name}`;
      let stats: BigIntStats;
      try {
        stats = await lstat(path, { bigint: true });
      } catch {
        continue;
      }
      const facts = factsOf(stats);
      const attrs = attributes.get(path);
      if (attrs?.['trusted.overlay.opaque'] === '0x79') facts.opaque = true;
      if (attrs?.['security.capability']) facts.capability = attrs['security.capability'];
      nodes.push({ name, facts, children: facts.kind === 'directory' ? await scan(path) : [] });
    }
    return nodes;
  };
  return scan(upper);
}

/** A root filesystem on this host as the image view. */
export function imageViewOf(root: string): ImageView {
  return {
    async lookup(path) {
      try {
        return factsOf(await lstat(`${root}${path}`, { bigint: true }));
      } catch {
        return undefined;
      }
    },
    async list(path) {
      try {
        return await readdir(`${root}${path}`);
      } catch {
        return [];
      }
    },
    async capability(path) {
      const attributes = await runGetfattr(['--absolute-names', '-h', '-e', 'hex', '-d', '-m', '^security\\.capability$', `${root}${path}`]);
      return parseGetfattr(attributes).get(`${root}${path}`)?.['security.capability'];
    },
  };
}

async function dumpAttributes(dir: string): Promise<Map<string, Record<string, string>>> {
  return parseGetfattr(await runGetfattr([
    '--absolute-names', '-R', '-P', '-e', 'hex', '-d', '-m', '^(trusted\\.overlay\\.opaque|security\\.capability)$', dir,
  ]));
}

/** getfattr's output; it exits non-zero for files that vanished meanwhile, which is no reason to fail. */
function runGetfattr(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('getfattr', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    child.stdout.setEncoding('latin1').on('data', (text: string) => { output += text; });
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
}

/** "# file: PATH" blocks of "name=0x..." lines; PATH has getfattr's octal escapes. */
export function parseGetfattr(output: string): Map<string, Record<string, string>> {
  const result = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = {};
      result.set(unescapeGetfattr(line.slice('# file: '.length)), current);
      continue;
    }
    const equals = line.indexOf('=');
    if (current && equals > 0) current[line.slice(0, equals)] = line.slice(equals + 1);
  }
  return result;
}

function unescapeGetfattr(text: string): string {
  const bytes = Buffer.from(text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))), 'latin1');
  return bytes.toString('utf8');
}

/** The backend of GET /containers/{id}/changes. */
export class ContainerChanges {
  constructor(private readonly containers: ContainerService, private readonly images: ImageService) {}

  async changes(reference: string): Promise<FilesystemChange[]> {
    const record = this.containers.get(reference);
    return this.containers.locked(record, async () => {
      const { directory, upper } = this.containers.paths(record);
      const lowerDirs = await this.images.lowerDirs(record.topChainId);
      // An image without layers (FROM scratch) is an empty tree; overlay cannot mount nothing.
      if (lowerDirs.length === 0) return computeChanges(await scanUpper(upper), imageViewOf(join(directory, '.no-layers')));
      const view = join(directory, `.diff-${randomBytes(6).toString('hex')}`);
      try {
        await mountOverlay({ layersRoot: this.images.layersRoot, lowerDirs, target: view, readonly: true });
        return await computeChanges(await scanUpper(upper), imageViewOf(view));
      } finally {
        await unmount(view).catch(() => undefined);
        // rmdir, never rm -r: should the unmount have failed, the image's layers are below.
        await rmdir(view).catch(() => undefined);
      }
    });
  }
}
