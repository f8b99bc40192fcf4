// The shape of a berth command and the runner that parses its flags, checks its argument
// count and prints help and usage errors worded like the docker CLI (cobra + pflag).

import type { EngineClient } from '../client/engine-client.js';
import type { ConnectionOptions } from './contexts.js';
import { FlagError, formatFlagHelp, parseFlags } from './flags.js';
import type { FlagSpec, FlagValues } from './flags.js';
import { StatusError } from './output.js';
import { toApiTimestamp } from '../util/units.js';

export const BINARY = 'berth';

export interface CliContext {
  host: string;
  debug: boolean;
  /** The global flags that choose the daemon (-H, --context, --tls*), for `berth context`. */
  connectionOptions: ConnectionOptions;
  /** The context in use ("default": -H / DOCKER_HOST). */
  contextName: string;
  /** Created on first use so that commands that never talk to the daemon stay cheap. */
  client(): EngineClient;
}

export interface Invocation {
  ctx: CliContext;
  flags: FlagValues;
  args: string[];
  /** Flags that appeared on the command line (pflag's Changed). */
  changed: Set<string>;
  /** "berth run" or "berth container run": used in messages. */
  commandPath: string;
}

export interface CommandSpec {
  name: string;
  /** Usage after the command path, e.g. "[OPTIONS] IMAGE [COMMAND] [ARG...]". */
  usage: string;
  description: string;
  aliases?: string[];
  flags: FlagSpec[];
  args?: { min?: number; max?: number };
  /** false: flags end at the first positional argument (run, create). */
  interspersed?: boolean;
  /** Resolves with the exit status (0 when nothing is returned). */
  run(invocation: Invocation): Promise<number | void>;
}

function pluralize(word: string, count: number): string {
  return count === 1 ? word : `${word}s`;
}

export function helpText(spec: CommandSpec, commandPath: string): string {
  let text = `Usage:  ${commandPath} ${spec.usage}\n\n${spec.description}\n`;
  if (spec.aliases && spec.aliases.length > 0) {
    text += `\nAliases:\n  ${spec.aliases.map((alias) => `${BINARY} ${alias}`).join(', ')}\n`;
  }
  const options = formatFlagHelp(spec.flags);
  if (options.trim() !== '') text += `\nOptions:\n${options}\n`;
  return text;
}

function argumentError(spec: CommandSpec, commandPath: string, count: number): string | undefined {
  const { min, max } = spec.args ?? {};
  const usageLine = `${commandPath} ${spec.usage}`;
  let problem: string | undefined;
  let verb = 'Run';
  if (min !== undefined && max !== undefined && min === max && count !== min) {
    problem = min === 0 ? `accepts no arguments` : `requires ${min} ${pluralize('argument', min)}`;
  } else if (min !== undefined && max !== undefined && min !== max && (count < min || count > max)) {
    problem = `requires at least ${min} and at most ${max} ${pluralize('argument', max)}`;
  } else if (min !== undefined && count < min) {
    problem = `requires at least ${min} ${pluralize('argument', min)}`;
    verb = 'See';
  } else if (max !== undefined && count > max) {
    problem = `requires at most ${max} ${pluralize('argument', max)}`;
  }
  if (!problem) return undefined;
  return `${BINARY}: '${commandPath}' ${problem}\n\nUsage:  ${usageLine}\n\n${verb} '${commandPath} --help' for more information`;
}

/** Parse argv for a command, then run it; usage problems become StatusErrors with docker's wording. */
export async function executeCommand(spec: CommandSpec, ctx: CliContext, argv: string[], commandPath: string): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, spec.flags, { interspersed: spec.interspersed ?? true });
  } catch (err) {
    if (err instanceof FlagError) throw usageFlagError(spec, commandPath, err.message);
    throw err;
  }
  if (parsed.flags.help === true) {
    process.stdout.write(helpText(spec, commandPath) + '\n');
    return 0;
  }
  const problem = argumentError(spec, commandPath, parsed.positional.length);
  if (problem) throw new StatusError(1, problem);
  try {
    const status = await spec.run({ ctx, flags: parsed.flags, args: parsed.positional, changed: parsed.changed, commandPath });
    return status ?? 0;
  } catch (err) {
    if (err instanceof FlagError) throw usageFlagError(spec, commandPath, err.message);
    throw err;
  }
}

/** cli.FlagErrorFunc: the flag error, the usage line, a pointer to --help; exit status 125. */
export function usageFlagError(spec: CommandSpec, commandPath: string, message: string): StatusError {
  return new StatusError(125, `${message}\n\nUsage:  ${commandPath} ${spec.usage}\n\nRun '${commandPath} --help' for more information`);
}

// ---- typed access to parsed flag values ----

export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value[value.length - 1];
  return String(value);
}

/** A --since/--until value (duration, date or unix time) as the API's "sec.nanos" timestamp. */
export function timestampFlag(flags: FlagValues, name: string, now: Date): string | undefined {
  const value = stringFlag(flags, name);
  if (!value) return undefined;
  try {
    return toApiTimestamp(value, now);
  } catch (err) {
    throw new StatusError(1, (err as Error).message);
  }
}

export function boolFlag(flags: FlagValues, name: string): boolean {
  return flags[name] === true;
}

export function intFlag(flags: FlagValues, name: string): number | undefined {
  const value = flags[name];
  return typeof value === 'number' ? value : undefined;
}

export function listFlag(flags: FlagValues, name: string): string[] {
  const value = flags[name];
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [value];
  return [];
}

/**
 * Docker's multi-target commands: run `op` for every argument in order, print what `op`
 * returns (default: the argument) for each success, collect the errors and fail at the end.
 */
export async function forEachTarget(
  targets: string[],
  op: (target: string) => Promise<string | string[] | void>,
  options: { ignoreError?: (err: unknown) => boolean } = {},
): Promise<number> {
  const errors: string[] = [];
  // Docker runs these in parallel (up to 50) but prints in argument order, as each finishes.
  const pending = targets.map((target) =>
    op(target).then(
      (value) => ({ ok: true as const, value }),
      (reason: unknown) => ({ ok: false as const, reason }),
    ),
  );
  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    const result = await pending[index]!;
    if (!result.ok) {
      const message = result.reason instanceof Error ? result.reason.message : String(result.reason);
      if (options.ignoreError?.(result.reason)) {
        process.stderr.write(message + '\n');
        continue;
      }
      errors.push(message);
      continue;
    }
    const value = result.value;
    const lines = value === undefined ? [target] : Array.isArray(value) ? value : [value];
    for (const line of lines) process.stdout.write(line + '\n');
  }
  if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  return 0;
}
