// Turns conmon's exit files into callbacks. conmon writes <exit-dir>/<id> (the exit code as
// text) when a container's process ends; an inotify watch on the directory tells the daemon at
// once, and `collect` reads what was written while the daemon was away.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { traceOperation, traceRecord } from '../util/trace.js';

const CONTAINER_ID = /^[0-9a-f]{64}$/;

export class ExitWatcher {
  private watcher: FSWatcher | undefined;
  private readonly handled = new Set<string>();

  /** `exitedAt` is when conmon wrote the exit file: the real exit time, also for exits while the daemon was away. */
  constructor(readonly directory: string, private readonly onExit: (id: string, exitCode: number, exitedAt: Date) => void | Promise<void>) {}

  /**
   * Watches the directory; resolves once the exits written while the daemon was away have been
   * handled, so that nothing is served that still calls such a container running.
   */
  async start(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    this.watcher = watch(this.directory, (_event, filename) => {
      if (filename) void this.check(filename.toString());
    });
    await Promise.all((await readdir(this.directory)).map((name) => this.check(name)));
  }

  stop(): void {
    this.watcher?.close();
  }

  /** Forgets a container's exit file so that its next run can be reported again. */
  async clear(id: string): Promise<void> {
    this.handled.delete(id);
    await rm(join(this.directory, id), { force: true });
  }

  async readExitCode(id: string): Promise<number | undefined> {
    try {
      const text = (await readFile(join(this.directory, id), 'utf8')).trim();
      // conmon creates the file and then writes it: an empty file is not an exit yet.
      return text === '' ? undefined : Number.parseInt(text, 10);
    } catch {
      return undefined;
    }
  }

  private async check(id: string): Promise<void> {
    // conmon writes <id>.XXXXXX and renames it to <id> (GLib's g_file_set_contents): touching
    // the temporary file, let alone removing it, would lose the exit.
    if (!CONTAINER_ID.test(id) || this.handled.has(id)) return;
    const code = await this.readExitCode(id);
    if (code === undefined || this.handled.has(id)) return;
    this.handled.add(id);
    await traceOperation('exit', async () => {
      const info = await stat(join(this.directory, id), { bigint: true }).catch(() => undefined);
      const exitedAt = info ? info.mtime : new Date();
      // From conmon's write of the exit file to the daemon acting on it.
      if (info) traceRecord('exit.notify', Number(BigInt(Date.now()) * 1_000_000n - info.mtimeNs) / 1e6);
      await this.onExit(id, code, exitedAt);
    });
  }
}
