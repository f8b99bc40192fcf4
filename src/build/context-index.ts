// The build context as read from its tar, without unpacking it: every entry's type, mode,
// size, link target and content digest, in a tree. A cached rebuild needs no more than this:
// the Dockerfile, .dockerignore, and the checksums of what COPY/ADD name. Unpacking ~2,000
// files to disk took seconds on the loaded project VM (GNU tar alone, ~0.5-1.7 s), so the
// context is unpacked only when a step copies from it (a cache miss). moby's classic builder
// hashes while it unpacks (tarsum), which is the same single pass without the deferral.
//
// The index stands for the unpacked tree only for plain archives: regular files, directories,
// symlinks and hard links to earlier files, each name once, clean, and never below a symlink.
// Anything else (devices, "..", a name twice, a path through a symlink) makes `simple` false:
// the context is then unpacked at once and read from disk, as before.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { cleanPath, type EntryKind, type ScopeFs } from '../archive/path.js';
import { drained } from '../util/streams.js';

export interface IndexNode {
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  linkname: string;
  /** sha256 hex of a file's content. */
  digest: string;
  /** Kept for the few files read by name (Dockerfile, .dockerignore). */
  content?: Buffer;
  children?: Map<string, IndexNode>;
  /** A directory no member named (made for a member below it). */
  implicit?: boolean;
}

/** Files of at most this size whose contents the index keeps when asked to. */
const KEPT_FILE_LIMIT = 1 << 20;

export class ContextIndex {
  readonly root: IndexNode = { type: 'directory', mode: 0o755, size: 0, linkname: '', digest: '', children: new Map() };
  simple = true;

  /** The node at a clean absolute path ("/" the root), symlinks not followed. */
  get(path: string): IndexNode | undefined {
    let node: IndexNode | undefined = this.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      node = node?.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  remove(path: string): void {
    const slash = path.lastIndexOf('/');
    this.get(path.slice(0, slash) || '/')?.children?.delete(path.slice(slash + 1));
  }

  /** The index as a ScopeFs, to resolve symlinks in the context's scope. */
  scopeFs(): ScopeFs {
    return {
      kind: async (path): Promise<EntryKind | undefined> => {
        const node = this.get(path);
        return node === undefined ? undefined : node.type === 'symlink' ? 'symlink' : node.type === 'directory' ? 'directory' : 'other';
      },
      readlink: async (path) => this.get(path)?.linkname ?? '',
    };
  }

  private add(name: string, node: IndexNode): void {
    if (name === '/') {
      if (node.type !== 'directory') this.simple = false;
      return;
    }
    let parent = this.root;
    const parts = name.slice(1).split('/');
    for (const part of parts.slice(0, -1)) {
      let next = parent.children!.get(part);
      if (!next) {
        // GNU tar makes a missing parent with the default mode.
        next = { type: 'directory', mode: 0o755, size: 0, linkname: '', digest: '', children: new Map(), implicit: true };
        parent.children!.set(part, next);
      }
      if (next.type !== 'directory') {
        this.simple = false;
        return;
      }
      parent = next;
    }
    const base = parts[parts.length - 1]!;
    const existing = parent.children!.get(base);
    if (existing) {
      // A directory made implicitly by an earlier member and now named: take its mode.
      if (existing.implicit && node.type === 'directory') {
        existing.mode = node.mode;
        existing.implicit = false;
        return;
      }
      this.simple = false;
      return;
    }
    parent.children!.set(base, node);
  }

  /**
   * Reads the plain tar `source` into an index, writing its bytes to `tarPath` on the way (to
   * unpack later). The contents of the files named in `keep` ("/Dockerfile") are kept.
   */
  static async read(source: AsyncIterable<Buffer>, tarPath: string, keep: ReadonlySet<string>): Promise<ContextIndex> {
    const index = new ContextIndex();
    const file = createWriteStream(tarPath);
    const fileError = new Promise<never>((_, reject) => file.on('error', reject));
    fileError.catch(() => undefined);
    // allowUnknownFormat: GNU tar takes v7 archives (no "ustar" magic), so must we.
    const parser = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
    parser.on('entry', (header, body, next) => {
      const name = entryName(header.name);
      const mode = (header.mode ?? 0o644) & 0o7777;
      const node: IndexNode = { type: 'file', mode, size: header.size ?? 0, linkname: '', digest: '' };
      if (name === undefined) index.simple = false;
      if (header.type === 'directory') {
        node.type = 'directory';
        node.size = 0;
        node.children = new Map();
      } else if (header.type === 'symlink') {
        node.type = 'symlink';
        node.linkname = header.linkname ?? '';
        node.size = 0;
      } else if (header.type === 'link') {
        const target = entryName(header.linkname ?? '');
        const linked = target === undefined ? undefined : index.get(target);
        if (linked?.type !== 'file') index.simple = false;
        else if (name !== undefined) index.add(name, linked);
        body.on('end', () => next());
        body.resume();
        return;
      } else if (header.type !== 'file' && header.type !== 'contiguous-file') {
        index.simple = false;
      }
      const hash = createHash('sha256');
      const kept = name !== undefined && keep.has(name) && node.size <= KEPT_FILE_LIMIT ? [] as Buffer[] : undefined;
      body.on('data', (chunk: unknown) => {
        hash.update(chunk as Buffer);
        kept?.push(chunk as Buffer);
      });
      body.on('end', () => {
        node.digest = hash.digest('hex');
        if (kept) node.content = Buffer.concat(kept);
        if (name !== undefined) index.add(name, node);
        next();
      });
    });
    const parsed = new Promise<void>((resolve, reject) => {
      parser.on('finish', resolve);
      parser.on('error', reject);
    });
    parsed.catch(() => undefined);
    try {
      for await (const chunk of source) {
        const fileWants = file.write(chunk);
        const parserWants = parser.write(chunk);
        const waits: Array<Promise<void>> = [];
        if (!fileWants) waits.push(drained(file));
        if (!parserWants) waits.push(drained(parser as unknown as NodeJS.EventEmitter));
        if (waits.length > 0) await Promise.race([Promise.all(waits), fileError, parsed]);
      }
      parser.end(undefined);
      file.end();
      await Promise.race([Promise.all([parsed, finished(file)]), fileError]);
    } catch (error) {
      parser.destroy();
      file.destroy();
      throw error;
    }
    return index;
  }
}

/** The clean absolute path a member names, or undefined when it climbs out ("..", absolute names). */
function entryName(name: string): string | undefined {
  if (name.startsWith('/')) return undefined;
  const relative = cleanPath(name);
  if (relative === '..' || relative.startsWith('../')) return undefined;
  return cleanPath(`/${relative}`);
}
