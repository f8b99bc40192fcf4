// Files inside containers, as the archive API, `docker cp` and `docker export` see them. Paths
// are resolved and tars packed and extracted by src/archive/ (path.ts, tar.ts, untar.ts).
//
// ContainerFiles is the daemon's backend for HEAD/GET/PUT /containers/{id}/archive and
// GET /containers/{id}/export. Each call keeps the container's root filesystem mounted
// (ContainerService.withRootfs) for as long as it runs, a streamed answer included, without
// holding the container's lock: a client that stops reading never blocks stop or rm.
// An upload is first spooled to disk and checked entry by entry, so that an archive that would
// be refused leaves nothing written.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type BigIntStats } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badParameter, isEngineError, notFound, serverError, type EngineError } from '../errdefs/errors.js';
import type { ContainerPathStat } from '../wire/types.js';
import { decompressStream } from '../layers/decompress.js';
import type { ContainerRecord } from './record.js';
import type { ContainerMountPoint } from '../volumes/mounts.js';
import type { ContainerService } from './service.js';
import { parseGroup, parsePasswd } from './user.js';
import {
  assertsDirectory, baseName, cleanPath, errnoOf, followSymlinkInScope, hostPathIn, onPath, PathError, preserveTrailingDotOrSeparator,
  quote, resolveInScope, rootScopeFs,
} from '../archive/path.js';
import { packPath, readTar } from '../archive/tar.js';
import { checkArchive, RootScope, untar, type Owner, type UntarOptions } from '../archive/untar.js';
import { formatGoTimeNs, goFileMode } from '../wire/path-stat.js';
import { shiftOwner, toContainerId } from '../util/id-mappings.js';

const OVERFLOW_ID = 65534;

/**
 * Where a container path lives: a path under a bind or a volume is in the mount's source, not in
 * the container's layer beneath it (symlinks are then resolved within that source). A tmpfs is
 * not reachable from the host.
 */
export function mountScope(record: Pick<ContainerRecord, 'mountPoints'>, rootfs: string, absPath: string): { root: string; path: string; mount?: ContainerMountPoint } {
  const clean = cleanPath(absPath);
  const mount = (record.mountPoints ?? [])
    .filter((point) => point.Type !== 'tmpfs' && (clean === point.Destination || clean.startsWith(`${point.Destination}/`)))
    .sort((a, b) => b.Destination.length - a.Destination.length)[0];
  if (!mount) return { root: rootfs, path: absPath };
  return { root: mount.Source, path: preserveTrailingDotOrSeparator(clean.slice(mount.Destination.length) || '/', absPath), mount };
}

/** The absolute container path the API works on: "/" joined, cleaned, its "/" or "/." kept. */
export function containerAbsPath(path: string): string {
  return preserveTrailingDotOrSeparator(cleanPath(`/${path}`), path);
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
export async function statInRoot(root: string, absPath: string, name: string): Promise<ContainerPathStat & { host: string; resolved: string }> {
  const { resolved, host, stats } = await locate(root, absPath);
  const linkTarget = stats.isSymbolicLink() ? await followSymlinkInScope(resolved, rootScopeFs(root)) : '';
  return { name, size: Number(stats.size), mode: goFileMode(Number(stats.mode)), mtime: formatGoTimeNs(stats.mtimeNs), linkTarget, host, resolved };
}

/**
 * The mounts below a container directory, keyed by their path relative to it: what a tar of that
 * directory packs from the mounts' sources, as Docker (which mounts the volumes first) does.
 */
export function mountsBelow(record: Pick<ContainerRecord, 'mountPoints'>, containerDirectory: string): Map<string, string> {
  const base = cleanPath(containerDirectory) === '/' ? '' : cleanPath(containerDirectory);
  const grafts = new Map<string, string>();
  for (const point of record.mountPoints ?? []) {
    if (point.Type === 'tmpfs' || point.Source === '') continue;
    if (point.Destination.startsWith(`${base}/`)) grafts.set(point.Destination.slice(base.length + 1), point.Source);
  }
  return grafts;
}

// ---- the daemon's backend ---------------------------------------------------------------------------------

export interface ExtractRequest {
  noOverwriteDirNonDir: boolean;
  copyUIDGID: boolean;
}

/** What the archive routes call; every failure is an EngineError worded as Docker's. */
export class ContainerFiles {
  constructor(private readonly containers: ContainerService) {}

  /** HEAD /containers/{id}/archive. */
  async stat(reference: string, path: string): Promise<ContainerPathStat> {
    const record = this.containers.get(reference);
    return this.containers.withRootfs(record, async (rootfs) => {
      const target = mountScope(record, rootfs, containerAbsPath(path));
      const { host: _host, resolved: _resolved, ...stat } = await statInRoot(target.root, target.path, baseName(path)).catch((error: unknown) => {
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
      const target = mountScope(record, rootfs, absPath);
      const { host, resolved, ...stat } = await statInRoot(target.root, target.path, baseName(absPath)).catch((error: unknown) => {
        throw apiErrorFor(error, path, reference);
      });
      const containerPath = target.mount ? `${target.mount.Destination}/${resolved}` : resolved;
      this.containers.publishEvent(record, 'archive-path');
      const mappings = this.containers.idMappings;
      // Under a remapped root the archive names owners by their IDs in the container; others are the kernel's overflow ID.
      const toContainer = mappings && (({ uid, gid }: { uid: number; gid: number }) => ({
        uid: toContainerId(uid, mappings.uidMappings) ?? OVERFLOW_ID, gid: toContainerId(gid, mappings.gidMappings) ?? OVERFLOW_ID,
      }));
      await send(stat, packPath(host, baseName(absPath) === '/' ? '' : baseName(absPath), { grafts: mountsBelow(record, containerPath), mapOwner: toContainer }));
    });
  }

  /** PUT /containers/{id}/archive: `body` (a tar, maybe compressed) extracted into the directory `path`. */
  async extract(reference: string, path: string, request: ExtractRequest, body: Readable): Promise<void> {
    const record = this.containers.get(reference);
    await this.containers.withRootfs(record, async (rootfs) => {
      const target = mountScope(record, rootfs, containerAbsPath(path));
      const scope = new RootScope(target.root);
      const absPath = target.path;
      let dest: string;
      try {
        dest = await followSymlinkInScope(absPath, rootScopeFs(target.root));
        const stats = await onPath('lstat', absPath, () => lstat(hostPathIn(target.root, dest)));
        if (!stats.isDirectory()) throw badParameter('extraction point is not a directory');
      } catch (error) {
        throw apiErrorFor(error, path, reference);
      }
      if (target.mount && !target.mount.RW) throw badParameter('mounted volume is marked read-only');
      if (!target.mount && record.hostConfig.ReadonlyRootfs) throw badParameter('container rootfs is marked read-only');
      const owner = request.copyUIDGID ? await copyOwner(record, new RootScope(rootfs)) : undefined;
      const mappings = this.containers.idMappings;
      const options: UntarOptions = {
        noOverwriteDirNonDir: request.noOverwriteDirNonDir, noLchown: false, chown: owner,
        mapOwner: mappings && ((wanted) => shiftOwner(wanted, mappings)),
      };
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
function apiErrorFor(error: unknown, path: string, reference: string): EngineError {
  if (isEngineError(error)) return error;
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
