// The build cache, as the classic builder keeps it: images are the cache. A step's result is
// found by its parent image and its step config (container_config: the command with the build
// args that apply, or "#(nop) COPY file:<checksum> in /dst" and the like). Instead of scanning
// every image for a matching parent and config, as moby does, an index maps
// sha256(parent + config) to the image, kept on disk (build/cache.json, written atomically)
// and checked against the image store on every hit, so a removed image is simply a miss.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import type { ContainerConfig } from '../wire/types.js';
import type { ImageRecord } from '../images/service.js';

interface CacheEntry { parent: string; image: string }

export class BuildCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly path: string;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(directory: string, private readonly resolve: (id: string) => ImageRecord | undefined) {
    this.path = join(directory, 'cache.json');
  }

  async init(): Promise<void> {
    await mkdir(join(this.path, '..'), { recursive: true });
    try {
      const stored = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, CacheEntry>;
      for (const [key, entry] of Object.entries(stored)) if (this.resolve(entry.image)) this.entries.set(key, entry);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
    }
  }

  /**
   * The image a step made before from `parent` with `stepConfig`, if it is still there. With
   * `allowed` (--cache-from), only those images and their ancestors count.
   */
  lookup(parent: string, stepConfig: ContainerConfig, allowed?: ReadonlySet<string>): ImageRecord | undefined {
    const entry = this.entries.get(cacheKey(parent, stepConfig));
    if (!entry) return undefined;
    if (allowed && !this.isAllowed(entry.image, allowed)) return undefined;
    return this.resolve(entry.image);
  }

  async record(parent: string, stepConfig: ContainerConfig, image: string): Promise<void> {
    this.entries.set(cacheKey(parent, stepConfig), { parent, image });
    const snapshot = Object.fromEntries(this.entries);
    const write = this.writes.then(() => writeJsonAtomic(this.path, snapshot));
    this.writes = write.catch(() => undefined);
    await write;
  }

  /** The images some cached step was made on. */
  parents(): Set<string> {
    return new Set([...this.entries.values()].map((entry) => entry.parent));
  }

  /** --cache-from: the given images and what they were built on. */
  private isAllowed(image: string, allowed: ReadonlySet<string>): boolean {
    if (allowed.has(image)) return true;
    const parents = new Map<string, string>();
    for (const entry of this.entries.values()) parents.set(entry.image, entry.parent);
    for (const start of allowed) {
      for (let current: string | undefined = start; current; current = parents.get(current)) if (current === image) return true;
    }
    return false;
  }
}

/** The step's identity: its parent and its config, with keys in a stable order. */
export function cacheKey(parent: string, stepConfig: ContainerConfig): string {
  return createHash('sha256').update(`${parent}\n${stableJson(stepConfig)}`).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
