// Container file commands: cp, diff, export and port, with the docker CLI's semantics.
//
// `cp` works as docker's does: the daemon only archives a path (GET .../archive) or extracts a
// tar into a directory (PUT .../archive); what goes where (into an existing directory, under a
// new name, the contents of "dir/.") is decided here from the stat of both ends, and the tar
// is renamed on the way when needed (moby's archive.PrepareArchiveCopy/CopyTo).

import { createWriteStream, type Stats } from 'node:fs';
import { lstat, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerPathStat } from '../../wire/types.js';
import type { EngineClient } from '../../client/engine-client.js';
import { goModeProblem, isGoDir, isGoSymlink } from '../../wire/path-stat.js';
import { LOCAL_SCOPE, untar } from '../../archive/untar.js';
import { packPath, readTar, rebaseArchive } from '../../archive/tar.js';
import { assertsDirectory, baseName, cleanPath, getRebaseName, hasTrailingSeparator, joinPath, PathError, preserveTrailingDotOrSeparator, splitPathDirEntry } from '../../archive/path.js';
import { boolFlag, stringFlag } from '../command.js';
import type { CommandSpec, Invocation } from '../command.js';
import { displaySize, flushStdout, StatusError } from '../output.js';

// ---- cp: paths and plans (pure) ------------------------------------------------------------------------

/**
 * [container, path] of a cp argument; "" for a local path. A local path with ":" must be made
 * explicit ("./a:b" or "/a:b"), as in scp.
 */
export function splitCpArg(arg: string): [string, string] {
  if (arg.startsWith('/')) return ['', arg];
  const colon = arg.indexOf(':');
  if (colon === -1 || arg.startsWith('.')) return ['', arg];
  return [arg.slice(0, colon), arg.slice(colon + 1)];
}

/** An absolute local path that keeps the "/" or "/." it was given with. */
export function resolveLocalPath(localPath: string, cwd = process.cwd()): string {
  return preserveTrailingDotOrSeparator(cleanPath(resolvePath(cwd, localPath)), localPath);
}

export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  /** The name the copy takes instead of the source's own ("" to keep it). */
  rebaseName: string;
}

export interface CopyPlan {
  /** The directory the archive is extracted into. */
  dstDir: string;
  /** [old, new] first path element of the archive's entries, when it must be renamed. */
  rebase?: [string, string];
}

/** Where to extract the source's archive and under which name (PrepareArchiveCopy); throws docker's errors. */
export function archiveCopyPlan(source: CopyInfo, destination: CopyInfo): CopyPlan {
  const [dstDir, dstBase] = splitPathDirEntry(destination.path);
  const srcBase = source.rebaseName || splitPathDirEntry(source.path)[1];
  if (destination.exists && destination.isDir) return { dstDir: destination.path };
  if (destination.exists && source.isDir) throw new StatusError(1, 'cannot copy directory');
  if (!destination.exists && !source.isDir && assertsDirectory(destination.path)) throw new StatusError(1, 'no such directory');
  return srcBase === dstBase ? { dstDir } : { dstDir, rebase: [srcBase, dstBase] };
}

// ---- cp: the local side ---------------------------------------------------------------------------------

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'EIO';
}

/** Go's filepath.EvalSymlinks: the real path, or the error of the first component that fails. */
async function evalSymlinks(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    const clean = cleanPath(path);
    const parts = clean.split('/').filter((part) => part !== '');
    for (let count = 1; count <= parts.length; count++) {
      const prefix = `/${parts.slice(0, count).join('/')}`;
      try {
        await stat(prefix);
      } catch (inner) {
        throw new StatusError(1, new PathError('lstat', prefix, errnoCode(inner)).message);
      }
    }
    throw new StatusError(1, new PathError('lstat', clean, errnoCode(error)).message);
  }
}

async function localLstat(path: string, op = 'lstat'): Promise<Stats> {
  try {
    return await lstat(path);
  } catch (error) {
    throw new StatusError(1, new PathError(op, path, errnoCode(error)).message);
  }
}

/** The local source of a copy (CopyInfoSourcePath): directories resolved, the last link followed with -L. */
export async function copyInfoSourcePath(path: string, followLink: boolean): Promise<CopyInfo> {
  let resolved: string;
  let rebaseName = '';
  if (followLink) {
    [resolved, rebaseName] = getRebaseName(path, await evalSymlinks(path));
  } else {
    const slash = path.lastIndexOf('/');
    const [dirPath, base] = [path.slice(0, slash + 1), path.slice(slash + 1)];
    const resolvedDir = await evalSymlinks(dirPath || '.');
    resolved = `${resolvedDir === '/' ? '' : resolvedDir}/${base}`;
    if (hasTrailingSeparator(path) && baseName(path) !== baseName(resolved)) rebaseName = baseName(path);
  }
  const stats = await localLstat(resolved);
  return { path: resolved, exists: true, isDir: stats.isDirectory(), rebaseName };
}

/** The local destination of a copy (CopyInfoDestinationPath): symlinks followed; a missing path needs its parent. */
export async function copyInfoDestinationPath(original: string): Promise<CopyInfo> {
  let path = original;
  let stats: Stats | undefined;
  let failure: unknown;
  try {
    stats = await lstat(path);
  } catch (error) {
    failure = error;
  }
  for (let links = 0; stats?.isSymbolicLink(); links++) {
    if (links > 10) throw new StatusError(1, `too many symlinks in ${original}`);
    const target = await readlink(path);
    path = target.startsWith('/') ? target : joinPath(splitPathDirEntry(path)[0], target);
    stats = undefined;
    try {
      stats = await lstat(path);
    } catch (error) {
      failure = error;
    }
  }
  if (stats) return { path, exists: true, isDir: stats.isDirectory(), rebaseName: '' };
  if (errnoCode(failure) !== 'ENOENT') throw new StatusError(1, new PathError('lstat', path, errnoCode(failure)).message);
  const parent = splitPathDirEntry(path)[0];
  let parentStats: Stats;
  try {
    parentStats = await stat(parent);
  } catch (error) {
    throw new StatusError(1, new PathError('stat', parent, errnoCode(error)).message);
  }
  if (!parentStats.isDirectory()) throw new StatusError(1, 'not a directory');
  return { path, exists: false, isDir: false, rebaseName: '' };
}

/** A tar of a local source, named as the copy should be (TarResource). */
function tarResource(info: CopyInfo): Readable {
  const [sourceDir, sourceBase] = splitPathDirEntry(info.path);
  return packPath(sourceBase === '.' ? sourceDir : joinPath(sourceDir, sourceBase), info.rebaseName || sourceBase);
}

/** docker's ValidateOutputPath for a local destination. */
async function validateOutputPath(path: string): Promise<void> {
  const dir = dirname(cleanPath(path));
  if (dir !== '.' && dir !== '') {
    try {
      await stat(dir);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw new StatusError(1, `invalid output path: directory ${JSON.stringify(dir)} does not exist`);
    }
  }
  let stats: Stats;
  try {
    stats = await stat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw new StatusError(1, new PathError('stat', path, errnoCode(error)).message);
  }
  if (stats.isDirectory() || stats.isFile()) return;
  if (stats.isCharacterDevice() || stats.isBlockDevice()) throw new StatusError(1, `invalid output path: ${JSON.stringify(path)} must be a directory or a regular file: got a device`);
}

/** Extracts an archive of `source` to the local `destination` (CopyTo). */
async function copyTo(content: Readable, source: CopyInfo, destination: string): Promise<void> {
  const plan = archiveCopyPlan(source, await copyInfoDestinationPath(destination));
  const archive = plan.rebase ? rebaseArchive(content, plan.rebase[0], plan.rebase[1]) : content;
  try {
    await untar(readTar(archive), plan.dstDir, LOCAL_SCOPE, { noLchown: true, noOverwriteDirNonDir: true });
  } catch (error) {
    if (error instanceof StatusError) throw error;
    throw new StatusError(1, (error as Error).message);
  }
}

/** Counts the bytes that flow through (the size docker's summary gives). */
function counted(source: Readable, counter: { bytes: number }): Readable {
  const through = new PassThrough();
  source.on('data', (chunk: Buffer) => { counter.bytes += chunk.length; });
  source.on('error', (error) => through.destroy(error));
  source.pipe(through);
  return through;
}

// ---- cp ----------------------------------------------------------------------------------------------------

interface CopyConfig {
  container: string;
  source: string;
  destination: string;
  followLink: boolean;
  copyUIDGID: boolean;
  quiet: boolean;
}

async function copyFromContainer(client: EngineClient, config: CopyConfig): Promise<void> {
  const destination = config.destination === '-' ? '-' : resolveLocalPath(config.destination);
  await validateOutputPath(destination);
  let source = config.source;
  let rebaseName = '';
  if (config.followLink) {
    const sourceStat = await client.containerStatPath(config.container, source).catch(() => undefined);
    if (sourceStat && isGoSymlink(sourceStat.mode)) {
      let linkTarget = sourceStat.linkTarget;
      if (!linkTarget.startsWith('/')) linkTarget = joinPath(splitPathDirEntry(source)[0], linkTarget);
      [source, rebaseName] = getRebaseName(source, linkTarget);
    }
  }
  const { stat: sourceStat, content } = await client.containerArchive(config.container, source);
  if (destination === '-') {
    await pipeline(content, process.stdout, { end: false });
    await flushStdout();
    return;
  }
  const info: CopyInfo = { path: source, exists: true, isDir: isGoDir(sourceStat.mode), rebaseName };
  const counter = { bytes: 0 };
  let archive: Readable = config.quiet ? content : counted(content, counter);
  if (rebaseName) archive = rebaseArchive(archive, splitPathDirEntry(source)[1], rebaseName);
  if (config.quiet) {
    await copyTo(archive, info, destination);
    return;
  }
  // docker 28 means to animate progress on a terminal's stderr but never does (its check wraps
  // the stream twice): only the summary shows, also after a failure.
  try {
    await copyTo(archive, info, destination);
  } finally {
    process.stderr.write(`Successfully copied ${displaySize(counter.bytes)} to ${destination}\n`);
  }
}

async function copyToContainer(client: EngineClient, config: CopyConfig): Promise<void> {
  const source = config.source === '-' ? '-' : resolveLocalPath(config.source);
  const target = `${config.container}:${config.destination}`;
  const destination: CopyInfo = { path: config.destination, exists: false, isDir: false, rebaseName: '' };
  let destinationStat: ContainerPathStat | undefined = await client.containerStatPath(config.container, config.destination).catch(() => undefined);
  if (destinationStat && isGoSymlink(destinationStat.mode)) {
    let linkTarget = destinationStat.linkTarget;
    if (!linkTarget.startsWith('/')) linkTarget = joinPath(splitPathDirEntry(config.destination)[0], linkTarget);
    destination.path = linkTarget;
    destinationStat = await client.containerStatPath(config.container, linkTarget).catch(() => undefined);
  }
  if (destinationStat) {
    const problem = goModeProblem(destinationStat.mode);
    if (problem) throw new StatusError(1, `destination ${JSON.stringify(target)} must be a directory or a regular file: ${problem}`);
    destination.exists = true;
    destination.isDir = isGoDir(destinationStat.mode);
  }
  const counter = { bytes: 0 };
  let content: Readable;
  let extractTo: string;
  if (source === '-') {
    if (!destination.isDir) throw new StatusError(1, `destination ${JSON.stringify(target)} must be a directory`);
    content = process.stdin;
    extractTo = destination.path;
  } else {
    const info = await copyInfoSourcePath(source, config.followLink);
    const plan = archiveCopyPlan(info, destination);
    const archive = tarResource(info);
    content = plan.rebase ? rebaseArchive(archive, plan.rebase[0], plan.rebase[1]) : archive;
    if (!config.quiet) content = counted(content, counter);
    extractTo = plan.dstDir;
  }
  const put = () => client.containerPutArchive(config.container, extractTo, content, { noOverwriteDirNonDir: true, copyUIDGID: config.copyUIDGID });
  if (config.quiet) {
    await put();
    return;
  }
  try {
    await put();
  } finally {
    process.stderr.write(`Successfully copied ${displaySize(counter.bytes)} to ${config.container}:${destination.path}\n`);
  }
}

export const cpCommand: CommandSpec = {
  name: 'cp',
  usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem\n\n'
    + "Use '-' as the source to read a tar archive from stdin\n"
    + 'and extract it to a directory destination in a container.\n'
    + "Use '-' as the destination to stream a tar archive of a\n"
    + 'container source to stdout.',
  aliases: ['container cp', 'cp'],
  flags: [
    { name: 'archive', short: 'a', type: 'bool', description: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', description: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
  ],
  args: { min: 2, max: 2 },
  async run(invocation: Invocation) {
    const [sourceArg, destinationArg] = invocation.args as [string, string];
    if (sourceArg === '') throw new StatusError(1, 'source can not be empty');
    if (destinationArg === '') throw new StatusError(1, 'destination can not be empty');
    const [sourceContainer, source] = splitCpArg(sourceArg);
    const [destinationContainer, destination] = splitCpArg(destinationArg);
    // Without -q, quiet when stdout is no terminal, as docker decides.
    const quiet = invocation.changed.has('quiet') ? boolFlag(invocation.flags, 'quiet') : !process.stdout.isTTY;
    const config: CopyConfig = {
      container: sourceContainer || destinationContainer, source, destination,
      followLink: boolFlag(invocation.flags, 'follow-link'), copyUIDGID: boolFlag(invocation.flags, 'archive'), quiet,
    };
    if (sourceContainer && destinationContainer) throw new StatusError(1, 'copying between containers is not supported');
    if (!sourceContainer && !destinationContainer) throw new StatusError(1, 'must specify at least one container source');
    const client = invocation.ctx.client();
    if (sourceContainer) await copyFromContainer(client, config);
    else await copyToContainer(client, config);
    return 0;
  },
};

// ---- diff ------------------------------------------------------------------------------------------------

const CHANGE_LETTERS = ['C', 'A', 'D'];

export const diffCommand: CommandSpec = {
  name: 'diff',
  usage: 'CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  aliases: ['container diff', 'diff'],
  flags: [],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const container = invocation.args[0]!;
    if (container === '') throw new StatusError(1, 'Container name cannot be empty');
    const changes = await invocation.ctx.client().containerChanges(container);
    process.stdout.write(changes.map((change) => `${CHANGE_LETTERS[change.Kind] ?? ''} ${change.Path}\n`).join(''));
    return 0;
  },
};

// ---- export ----------------------------------------------------------------------------------------------

export const exportCommand: CommandSpec = {
  name: 'export',
  usage: '[OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  aliases: ['container export', 'export'],
  flags: [{ name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const output = stringFlag(invocation.flags, 'output') ?? '';
    if (output === '' && process.stdout.isTTY) {
      throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    }
    const client = invocation.ctx.client();
    if (output === '') {
      await pipeline(await client.containerExport(invocation.args[0]!), process.stdout, { end: false });
      await flushStdout();
      return 0;
    }
    // docker writes atomically: a failed export leaves the old file (or none), never half a tar.
    const temp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
    try {
      const stream = createWriteStream(temp, { mode: 0o600 });
      await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject));
      await pipeline(await client.containerExport(invocation.args[0]!), stream);
      await rename(temp, output);
    } catch (err) {
      await rm(temp, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code) throw new StatusError(1, `failed to export container: ${new PathError('open', temp, code).message}`);
      throw err;
    }
    return 0;
  },
};

// ---- port ------------------------------------------------------------------------------------------------

export type PortMap = Record<string, Array<{ HostIp: string; HostPort: string }> | null>;

/** Go's net.JoinHostPort. */
function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** fvbommel/sortorder's NaturalLess: digit runs compared as numbers. */
export function naturalLess(a: string, b: string): boolean {
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const digitA = isDigit(a[i]);
    const digitB = isDigit(b[j]);
    if (digitA !== digitB) return digitA;
    if (!digitA) {
      if (a[i] !== b[j]) return a[i]! < b[j]!;
      i++;
      j++;
      continue;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    const startA = i;
    const startB = j;
    while (isDigit(a[i])) i++;
    while (isDigit(b[j])) j++;
    if (i - startA !== j - startB) return i - startA < j - startB;
    const numberA = a.slice(startA, i);
    const numberB = b.slice(startB, j);
    if (numberA !== numberB) return numberA < numberB;
    if (startA !== startB) return startA < startB;
  }
  return a.length < b.length;
}

/**
 * What `docker port` prints for a container's NetworkSettings.Ports: every mapping
 * ("80/tcp -> 0.0.0.0:8080"), or the host addresses of one private port ("80", "80/udp").
 */
export function portLines(ports: PortMap, container: string, requested?: string): string[] {
  const lines: string[] = [];
  if (requested !== undefined) {
    const slash = requested.indexOf('/');
    const port = slash === -1 ? requested : requested.slice(0, slash);
    const proto = slash === -1 || requested.slice(slash + 1) === '' ? 'tcp' : requested.slice(slash + 1);
    if (!/^\d+$/.test(port)) throw new StatusError(1, `Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: invalid syntax`);
    if (Number(port) > 65535) throw new StatusError(1, `Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: value out of range`);
    const frontends = ports[`${port}/${proto}`];
    if (!frontends || frontends.length === 0) throw new StatusError(1, `Error: No public port '${requested}' published for ${container}`);
    for (const frontend of frontends) lines.push(joinHostPort(frontend.HostIp, frontend.HostPort));
  } else {
    for (const [from, frontends] of Object.entries(ports)) {
      for (const frontend of frontends ?? []) lines.push(`${from} -> ${joinHostPort(frontend.HostIp, frontend.HostPort)}`);
    }
  }
  return lines.sort((x, y) => (naturalLess(x, y) ? -1 : naturalLess(y, x) ? 1 : 0));
}

export const portCommand: CommandSpec = {
  name: 'port',
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  aliases: ['container port', 'port'],
  flags: [],
  args: { min: 1, max: 2 },
  async run(invocation) {
    const [container, requested] = invocation.args as [string, string | undefined];
    const inspect = await invocation.ctx.client().containerInspect(container);
    const lines = portLines(inspect.NetworkSettings.Ports ?? {}, container, requested);
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
