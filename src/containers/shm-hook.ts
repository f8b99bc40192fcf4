// /dev/shm of a container whose IPC others may join (--ipc shareable), as Docker makes it: a
// tmpfs mounted on the host in the container's directory for each run and bind-mounted at
// /dev/shm, so that a container started with --ipc container:<it> binds the same one (a mount
// inside another container's mount namespace cannot be bind-mounted from outside it).
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unmount } from '../layers/overlay.js';
import type { HookContext, LifecycleHook, PrepareContext } from './hooks.js';
import { DEFAULT_SHM_SIZE } from './spec.js';

const execFileAsync = promisify(execFile);

/** The host path of a shareable container's /dev/shm. */
export const shmPathOf = (containerDirectory: string): string => join(containerDirectory, 'shm');

export class ShmHook implements LifecycleHook {
  readonly name = 'shm';

  async prepare({ record, paths, spec }: PrepareContext): Promise<void> {
    if (record.hostConfig.IpcMode !== 'shareable') return;
    const target = shmPathOf(paths.directory);
    await mkdir(target, { recursive: true });
    await unmount(target);
    const size = record.hostConfig.ShmSize || DEFAULT_SHM_SIZE;
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,noexec,mode=1777,size=${size}`, 'shm', target]);
    spec.mounts.push({ type: 'bind', source: target, destination: '/dev/shm' });
  }

  async release({ record, paths }: HookContext): Promise<void> {
    if (record.hostConfig.IpcMode === 'shareable') await unmount(shmPathOf(paths.directory));
  }
}
