// The OCI runtime (runc or crun) driven through its command line. This is the only place where
// namespaces and cgroups are entered. Each daemon keeps the runtime's state under its own root
// (<exec-root>/runtime/<name>), so two daemons never see each other's containers.
import { run, CommandError } from '../util/exec.js';

export interface RuntimeState { status: 'creating' | 'created' | 'running' | 'paused' | 'stopped'; pid: number }

export class OciRuntime {
  constructor(readonly name: string, readonly binary: string, readonly stateRoot: string) {}

  /** Global arguments that go before every subcommand (conmon receives them as --runtime-arg). */
  get globalArgs(): string[] {
    return [`--root=${this.stateRoot}`];
  }

  start(id: string): Promise<string> {
    return run(this.binary, [...this.globalArgs, 'start', id]);
  }

  async kill(id: string, signal: number | string, all = false): Promise<void> {
    await run(this.binary, [...this.globalArgs, 'kill', ...(all ? ['--all'] : []), id, String(signal)]);
  }

  /** Removes the runtime's record and cgroup; a container already gone is not an error. */
  async delete(id: string, force = false): Promise<void> {
    try {
      await run(this.binary, [...this.globalArgs, 'delete', ...(force ? ['--force'] : []), id]);
    } catch (error) {
      if (!(error instanceof CommandError) || !/does not exist|not found|no such file/i.test(error.stderr)) throw error;
    }
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      const parsed = JSON.parse(await run(this.binary, [...this.globalArgs, 'state', id])) as { status: RuntimeState['status']; pid: number };
      return { status: parsed.status, pid: parsed.pid };
    } catch (error) {
      if (error instanceof CommandError) return undefined;
      throw error;
    }
  }

  pause(id: string): Promise<string> {
    return run(this.binary, [...this.globalArgs, 'pause', id]);
  }

  resume(id: string): Promise<string> {
    return run(this.binary, [...this.globalArgs, 'resume', id]);
  }
}
