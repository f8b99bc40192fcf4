// A build's context: the tar the client sent (plain or compressed), read into an index (names,
// modes, link targets, content digests: context-index.ts) and kept as a file, unpacked into a
// private directory with moby's extraction rules only when a step copies from it, minus what
// .dockerignore leaves out (the docker CLI filters already; raw API clients may not). Sources
// of COPY and ADD are resolved inside it (symlinks followed in scope, ".." never above it) and
// matched against wildcards as Go's filepath.Match does. An archive the index cannot stand for
// is unpacked at once and read from disk.
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cleanPath, followSymlinkInScope, hostPathIn, rootScopeFs } from '../archive/path.js';
import { badParameter, notFound } from '../errdefs/errors.js';
import { decompressStream } from '../layers/decompress.js';
import { traced } from '../util/trace.js';
import { ContextIndex } from './context-index.js';
import { contextFilter, parseDockerignore } from './dockerignore.js';
import type { TreeReader } from './sources.js';

export interface ContextSource {
  /** The path in the context ("/dir/file"), as resolved. */
  path: string;
  hostPath: string;
  isDirectory: boolean;
}

export class BuildContext {
  /** .dockerignore and the Dockerfile when .dockerignore excludes them: gone once the Dockerfile is read. */
  private excludedBuildFiles: string[] = [];
  private removedBuildFiles = false;
  /** While set, the context is read from it; the disk copy is made by unpackToDisk(). */
  private index: ContextIndex | undefined;
  private ignore: { patterns: string[]; keep: ReadonlySet<string> } | undefined;
  private unpacked: Promise<void> | undefined;

  private constructor(readonly root: string, private readonly tarPath?: string) {}

  /** Reads `tar` into an index (kept beside `root` as a file) and applies its .dockerignore (Dockerfile and .dockerignore are kept). */
  static async unpack(tar: Readable, root: string, dockerfileName: string): Promise<BuildContext> {
    const tarPath = `${root}.tar`;
    const keep = new Set(['/.dockerignore', '/dockerfile', cleanPath(`/${dockerfileName}`)]);
    const index = await traced('build.context.receive', async () => ContextIndex.read(padded(await decompressStream(tar)), tarPath, keep));
    const context = new BuildContext(root, tarPath);
    const ignore = index.get('/.dockerignore');
    if (index.simple && !(ignore && ignore.content === undefined)) context.index = index;
    else await context.unpackToDisk();
    const ignoreText = context.index ? ignore?.content?.toString('utf8') : await readFile(join(root, '.dockerignore'), 'utf8').catch(() => undefined);
    if (ignoreText !== undefined) {
      const buildFiles = ['.dockerignore', cleanPath(`/${dockerfileName}`).slice(1)];
      const patterns = parseDockerignore(ignoreText);
      context.ignore = { patterns, keep: new Set(buildFiles) };
      await traced('build.context.dockerignore', async () => (context.index ? pruneIndex(context.index, patterns, context.ignore!.keep) : context.pruneDisk(patterns, context.ignore!.keep)));
      const filter = contextFilter(patterns);
      context.excludedBuildFiles = buildFiles.filter((file) => filter.excludes(file));
    }
    return context;
  }

  /** The context on disk, for a step that copies from it: unpacked once, with .dockerignore applied. */
  unpackToDisk(): Promise<void> {
    if (!this.tarPath) return Promise.resolve();
    this.unpacked ??= traced('build.context.extract', async () => {
      await extractWithTar(Readable.from(padded(createReadStream(this.tarPath!))), this.root);
      await rm(this.tarPath!, { force: true });
      if (this.ignore) await this.pruneDisk(this.ignore.patterns, this.ignore.keep);
      if (this.removedBuildFiles) for (const file of this.excludedBuildFiles) await rm(hostPathIn(this.root, `/${file}`), { force: true });
    });
    return this.unpacked;
  }

  /** What checksums read: the index while there is one. */
  tree(): TreeReader | undefined {
    const index = this.index;
    if (!index) return undefined;
    const node = (hostPath: string) => {
      const found = index.get(hostPath.slice(this.root.length) || '/');
      if (!found) throw Object.assign(new Error(`lstat ${hostPath}: no such file or directory`), { code: 'ENOENT' });
      return found;
    };
    return {
      stat: async (hostPath) => {
        const found = node(hostPath);
        return { type: found.type === 'directory' ? 'd' : found.type === 'symlink' ? 'l' : 'f', mode: found.mode, size: found.size, linkname: found.linkname };
      },
      children: async (hostPath) => [...(node(hostPath).children?.keys() ?? [])],
      fileDigest: async (hostPath) => node(hostPath).digest,
    };
  }

  /** An empty context (a Dockerfile sent alone, or a remote context that gave none). */
  static empty(root: string): BuildContext {
    return new BuildContext(root);
  }

  /** Reads the Dockerfile, then drops it and .dockerignore from the context if .dockerignore excludes them (moby's removeDockerfile). */
  async readDockerfile(name: string): Promise<string> {
    const clean = cleanPath(`/${name || 'Dockerfile'}`);
    for (const candidate of name ? [clean] : [clean, '/dockerfile']) {
      let text: string;
      if (this.index) {
        const node = this.index.get(await followSymlinkInScope(candidate, this.index.scopeFs()));
        if (!node || node.type !== 'file') continue;
        if (node.content === undefined) await this.unpackToDisk();
        text = node.content?.toString('utf8') ?? await readFile(await this.hostPath(candidate), 'utf8');
      } else {
        try {
          text = await readFile(await this.hostPath(candidate), 'utf8');
        } catch {
          continue;
        }
      }
      this.removedBuildFiles = true;
      for (const file of this.excludedBuildFiles) {
        this.index?.remove(`/${file}`);
        if (!this.index || this.unpacked) await rm(hostPathIn(this.root, `/${file}`), { force: true });
      }
      return text;
    }
    throw notFound(`Cannot locate specified Dockerfile: ${name || 'Dockerfile'}`);
  }

  /** The host path of a context path, symlinks followed inside the context. */
  async hostPath(path: string): Promise<string> {
    return hostPathIn(this.root, await followSymlinkInScope(cleanPath(`/${path}`), this.index?.scopeFs() ?? rootScopeFs(this.root)));
  }

  /**
   * The sources a COPY/ADD argument names: one path, or every match of a wildcard. Throws
   * Docker's errors for a path above the context or one that is not there.
   */
  async sources(instruction: string, source: string): Promise<ContextSource[]> {
    const relative = cleanPath(source);
    if (relative === '..' || relative.startsWith('../')) {
      throw badParameter(`${instruction} failed: forbidden path outside the build context: ${source} ()`);
    }
    const path = cleanPath(`/${source}`);
    if (!/[*?[]/.test(path)) {
      const hostPath = await this.hostPath(path);
      try {
        if (this.index) {
          const node = this.index.get(hostPath.slice(this.root.length) || '/');
          if (!node) throw new Error('not found');
          return [{ path, hostPath, isDirectory: node.type === 'directory' }];
        }
        const stats = await lstat(hostPath);
        return [{ path, hostPath, isDirectory: stats.isDirectory() }];
      } catch {
        throw badParameter(`${instruction} failed: file not found in build context or excluded by .dockerignore: stat ${relative}: file does not exist`);
      }
    }
    const pattern = globRegExp(path);
    const matches: ContextSource[] = [];
    await this.walk('/', async (candidate, isDirectory) => {
      if (pattern.test(candidate)) matches.push({ path: candidate, hostPath: hostPathIn(this.root, candidate), isDirectory });
    });
    return matches;
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
    if (this.tarPath) await rm(this.tarPath, { force: true });
  }

  private async pruneDisk(patterns: string[], keep: ReadonlySet<string>): Promise<void> {
    const filter = contextFilter(patterns);
    const visit = async (dir: string): Promise<void> => {
      for (const name of await readdir(hostPathIn(this.root, dir))) {
        const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
        const host = hostPathIn(this.root, path);
        const stats = await lstat(host);
        const excluded = !keep.has(path.slice(1)) && filter.excludes(path.slice(1));
        if (stats.isDirectory()) {
          if (excluded && !filter.mayIncludeBelow(path.slice(1))) {
            await rm(host, { recursive: true, force: true });
            continue;
          }
          await visit(path);
          if (excluded) await rmdir(host).catch(() => undefined);
        } else if (excluded) {
          await rm(host, { force: true });
        }
      }
    };
    await visit('/');
  }

  private async walk(dir: string, visit: (path: string, isDirectory: boolean) => Promise<void>): Promise<void> {
    const names = this.index ? [...(this.index.get(dir)?.children?.keys() ?? [])] : await readdir(hostPathIn(this.root, dir));
    for (const name of names.sort()) {
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const isDirectory = this.index ? this.index.get(path)?.type === 'directory' : (await lstat(hostPathIn(this.root, path))).isDirectory();
      await visit(path, isDirectory);
      if (isDirectory) await this.walk(path, visit);
    }
  }
}

/** .dockerignore applied to the index, as pruneDisk applies it to the unpacked context. */
function pruneIndex(index: ContextIndex, patterns: string[], keep: ReadonlySet<string>): void {
  const filter = contextFilter(patterns);
  const visit = (dir: string): void => {
    for (const [name, node] of [...(index.get(dir)?.children ?? [])]) {
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const excluded = !keep.has(path.slice(1)) && filter.excludes(path.slice(1));
      if (node.type === 'directory') {
        if (excluded && !filter.mayIncludeBelow(path.slice(1))) {
          index.remove(path);
          continue;
        }
        visit(path);
        if (excluded && node.children?.size === 0) index.remove(path);
      } else if (excluded) {
        index.remove(path);
      }
    }
  };
  visit('/');
}

/**
 * GNU tar unpacks the context into its fresh private directory: much faster than entry by entry
 * from Node, and as careful for an archive nobody checked (members with ".." are skipped, a
 * symlink that points above or outside is made only after every other member, so nothing is
 * written through it).
 */
async function extractWithTar(plain: Readable, root: string): Promise<void> {
  // --ignore-zeros: tar reads to the end of its input instead of stopping at the end-of-archive
  // blocks, which would break the pipe under the record padding clients send after them.
  const child = spawn('tar', ['-x', '--ignore-zeros', '--no-overwrite-dir', '--numeric-owner', '-C', root], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => { if (stderr.length < 4096) stderr += text; });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  child.stdin.on('error', () => undefined);
  try {
    await pipeline(plain, child.stdin);
  } catch (error) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw badParameter(`failed to read the build context: ${(error as Error).message}`);
  }
  const code = await exited;
  if (code !== 0) throw badParameter(`failed to read the build context: ${stderr.trim().split('\n').pop() ?? `tar exited with ${code}`}`);
}

/**
 * The stream, completed to whole 512-byte blocks and ended with the end-of-archive blocks: the
 * docker CLI's context with a Dockerfile added from elsewhere (-f) ends without them, which Go's
 * reader accepts and tar-stream would not.
 */
async function* padded(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let length = 0;
  for await (const chunk of source) {
    length += chunk.length;
    yield chunk;
  }
  yield Buffer.alloc((512 - (length % 512)) % 512 + 1024);
}

/** Go's filepath.Match pattern as a regular expression over whole paths: `*` and `?` stop at "/". */
export function globRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) throw badParameter(`syntax error in pattern: ${pattern}`);
      source += `[${pattern.slice(i + 1, close).replace(/^\^/, '^').replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = close;
    } else if (ch === '\\' && i + 1 < pattern.length) source += `\\${pattern[++i]}`;
    else source += ch.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
