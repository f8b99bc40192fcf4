// A terminal for tests of interactive commands: a tmux session on a private tmux server
// (CI has no terminal), driven like a person would: type, press keys, read the screen.
import { execFileSync } from 'node:child_process';
import { eventually } from './harness.js';

let counter = 0;

export class Terminal {
  private readonly server = `berth-test-${process.pid}-${++counter}`;
  private readonly session = 'main';

  /** Runs `command` (a shell command line) in a new window of the given size. */
  constructor(command: string, size: { columns: number; rows: number } = { columns: 100, rows: 30 }) {
    this.tmux('new-session', '-d', '-s', this.session, '-x', String(size.columns), '-y', String(size.rows),
      // The window stays after the command ends, so that its last output and exit code can be read.
      `${command}; echo "[exit $?]"; sleep 600`);
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.server, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  /** Types text literally (no key names). */
  type(text: string): void {
    this.tmux('send-keys', '-t', this.session, '-l', text);
  }

  /** Presses keys by tmux name: 'Enter', 'C-c', 'C-p'. */
  press(...keys: string[]): void {
    for (const key of keys) this.tmux('send-keys', '-t', this.session, key);
  }

  resize(columns: number, rows: number): void {
    this.tmux('resize-window', '-t', this.session, '-x', String(columns), '-y', String(rows));
  }

  /** The screen and its scroll-back, trailing blank lines dropped. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', this.session).replace(/\n+$/, '');
  }

  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return eventually(() => {
      const text = this.screen();
      return pattern.test(text) ? text : '';
    }, timeoutMs, `terminal to show ${pattern}; it shows:\n${this.screen()}`);
  }

  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}
