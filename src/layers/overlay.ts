// Overlay mounts of layer stacks (the container root filesystems), through mount(8).
// Lowerdirs are passed relative to the layer store root, and mount runs with that root as its
// working directory, as moby's overlay2 driver does, so that the option string stays under
// a page for deep images.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface OverlayOptions {
  /** Directory the relative lowerDirs are resolved against (LayerStore.root). */
  layersRoot: string;
  /** Top layer first, relative to layersRoot (e.g. "l/ABC..."); empty for an image without layers. */
  lowerDirs: string[];
  /** Absolute; required unless readonly. */
  upper?: string;
  /** Absolute; required unless readonly. */
  work?: string;
  target: string;
  readonly?: boolean;
}

const EMPTY_LOWER = 'empty';

/** The mount data string; exported for tests. */
export function overlayMountData(options: OverlayOptions): string {
  const lowers = options.lowerDirs.length > 0 ? [...options.lowerDirs] : [EMPTY_LOWER];
  const parts: string[] = [];
  if (options.readonly) {
    // Without an upperdir the kernel wants at least two lowerdirs.
    if (lowers.length === 1) lowers.push(EMPTY_LOWER);
    parts.push(`lowerdir=${lowers.join(':')}`);
  } else {
    if (!options.upper || !options.work) throw new Error('overlay mount needs upper and work directories');
    parts.push(`lowerdir=${lowers.join(':')}`, `upperdir=${options.upper}`, `workdir=${options.work}`);
  }
  // Docker turns the inodes index off: layers shared by many mounts then never trip over it.
  if (existsSync('/sys/module/overlay/parameters/index')) parts.push('index=off');
  return parts.join(',');
}

export async function mountOverlay(options: OverlayOptions): Promise<void> {
  await mkdir(join(options.layersRoot, EMPTY_LOWER), { recursive: true });
  await mkdir(options.target, { recursive: true });
  if (!options.readonly) {
    await mkdir(options.upper!, { recursive: true });
    await mkdir(options.work!, { recursive: true });
  }
  const args = ['-t', 'overlay', 'overlay', '-o', overlayMountData(options), options.target];
  if (options.readonly) args.splice(2, 0, '-r');
  try {
    await execFileAsync('mount', args, { cwd: options.layersRoot });
  } catch (error) {
    throw new Error(`mount overlay on ${options.target}: ${commandError(error)}`);
  }
}

/** Unmounts `target`; not being mounted is fine; a busy mount is detached lazily. */
export async function unmount(target: string): Promise<void> {
  if (!(await isMounted(target))) return;
  try {
    await execFileAsync('umount', [target]);
  } catch (error) {
    const message = commandError(error);
    if (/not mounted|no mount point specified|not found/i.test(message)) return;
    if (/busy/i.test(message)) {
      await execFileAsync('umount', ['-l', target]);
      return;
    }
    throw new Error(`umount ${target}: ${message}`);
  }
}

/** Whether `target` is a mount point, from /proc/self/mountinfo. */
export async function isMounted(target: string): Promise<boolean> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const wanted = target.replace(/\/+$/, '') || '/';
  for (const line of mountinfo.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint !== undefined && unescapeMountPath(mountPoint) === wanted) return true;
  }
  return false;
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function commandError(error: unknown): string {
  const failure = error as { stderr?: string; message?: string };
  return (failure.stderr || failure.message || String(error)).trim();
}
