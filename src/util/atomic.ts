// Crash-safe file writes: a reader (or the daemon after a crash) sees either the old file or
// the new one, never half of one. Write a temp file in the same directory, fsync it, rename it
// over the target, then fsync the directory so the rename itself is durable.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { traced } from './trace.js';

export interface AtomicWriteOptions {
  /**
   * false: atomic (a reader sees the old or the new content, also after a kill -9 of the
   * writer) but not synced, so a power loss may bring the previous content back. For state
   * that a power loss makes moot anyway, such as a container being running.
   */
  durable?: boolean;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, options: AtomicWriteOptions = {}): Promise<void> {
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'w', mode);
    try {
      await handle.writeFile(data);
      if (durable) await traced('fsync', () => handle.sync());
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  if (durable) await syncDirectory(dir);
}

/** Makes renames and creations inside `dir` durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await traced('fsync', () => handle.sync());
  } finally {
    await handle.close();
  }
}

/** Writes `value` as indented JSON, atomically. */
export async function writeJsonAtomic(path: string, value: unknown, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', 0o644, options);
}
