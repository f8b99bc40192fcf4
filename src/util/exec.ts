// Runs a host program (runc, mount, ip, ...) and returns its output, or throws with its stderr.
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { traced } from './trace.js';

export class CommandError extends Error {
  constructor(readonly command: string, readonly code: number | null, readonly stderr: string) {
    super(`${command}: ${stderr.trim() || `exit status ${code}`}`);
  }
}

export function run(file: string, args: string[], options: { cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<string> {
  return traced(`run.${basename(file)}`, () => runCommand(file, args, options));
}

function runCommand(file: string, args: string[], options: { cwd?: string; input?: string; timeoutMs?: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const code = typeof error.code === 'number' ? error.code : null;
        reject(new CommandError([file, ...args].join(' '), code, String(stderr) || error.message));
      } else resolve(String(stdout));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
