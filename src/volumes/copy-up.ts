// Copying a directory tree into an empty volume as Docker's copy-up does (owners, modes, times,
// symlinks unfollowed, hard links, xattrs, device nodes, fifos): with native/copy-tree.c,
// compiled by scripts/build.mjs next to the daemon's bundle, or with `cp -a` where it is missing.
import { CommandError, run } from '../util/exec.js';
import { nativeProgram } from '../util/native-programs.js';

/** Limits of a copy that may give up (a seed: src/volumes/seeds.ts); the copier exits with this status then. */
export interface CopyLimits { maxEntries: number; maxBytes: number }
const OVER_LIMIT = 3;

let copier: string | null | undefined;

/** Whether copies go through the compiled copier (seeds need its limits and its low priority). */
export function hasNativeCopier(): boolean {
  copier ??= nativeProgram('berth-copy-tree') ?? null;
  return copier !== null;
}

/** Copies the contents of the directory `from` into the existing directory `to`; `to` takes `from`'s owner, mode and times. */
export async function copyTree(from: string, to: string): Promise<void> {
  if (hasNativeCopier()) await run(copier!, [from, to], { timeoutMs: 10 * 60_000 });
  else await run('cp', ['-a', '--', `${from}/.`, to], { timeoutMs: 10 * 60_000 });
}

/**
 * The same at a lower CPU and I/O priority, giving up past `limits`: false then (`to` holds
 * part of the tree). Only with the compiled copier.
 */
export async function copyTreeInBackground(from: string, to: string, limits: CopyLimits): Promise<boolean> {
  if (!hasNativeCopier()) return false;
  const args = ['--background', '--max-entries', String(limits.maxEntries), '--max-bytes', String(limits.maxBytes), from, to];
  try {
    await run(copier!, args, { timeoutMs: 10 * 60_000 });
    return true;
  } catch (error) {
    if (error instanceof CommandError && error.code === OVER_LIMIT) return false;
    throw error;
  }
}
