// Applies `--change` Dockerfile instructions to a container config, as `docker import -c` and
// `docker commit -c` do (moby's dockerfile.BuildFromConfig): only CMD, ENTRYPOINT, ENV, EXPOSE,
// HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR are accepted. Pure.
import { cleanPath } from '../archive/path.js';
import { badParameter } from '../errdefs/errors.js';
import { parseGoDuration } from '../util/units.js';
import type { ContainerConfig, HealthConfig } from '../wire/types.js';

const VALID_CHANGE_COMMANDS = new Set([
  'cmd', 'entrypoint', 'healthcheck', 'env', 'expose', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir',
]);
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const ESCAPE = '\\';

export interface Instruction {
  /** Lower-cased keyword. */
  command: string;
  flags: string[];
  /** Everything after the keyword and flags, trimmed. */
  rest: string;
  /** The whole logical line. */
  original: string;
}

/** A copy of `config` with the changes applied; throws invalid-parameter errors with Docker's messages. */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  if (changes.length === 0) return config;
  const instructions = parseInstructions(changes.join('\n'));
  if (instructions.length === 0) throw badParameter('file with no instructions');
  for (const instruction of instructions) {
    if (!VALID_CHANGE_COMMANDS.has(instruction.command)) {
      throw badParameter(`${instruction.command} is not a valid change command`);
    }
  }
  const result: ContainerConfig = structuredClone(config);
  const state = { cmdSet: false };
  for (const instruction of instructions) applyInstruction(result, instruction, state);
  return result;
}

function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (pending === '' && /^\s*(#|$)/.test(line)) continue;
    if (pending !== '' && /^\s*#/.test(line)) continue;
    const trimmedEnd = line.replace(/\s+$/, '');
    if (trimmedEnd.endsWith(ESCAPE)) {
      pending += trimmedEnd.slice(0, -1);
      continue;
    }
    instructions.push(splitInstruction(pending + line));
    pending = '';
  }
  if (pending.trim() !== '') instructions.push(splitInstruction(pending));
  return instructions;
}

function splitInstruction(line: string): Instruction {
  const original = line.trim();
  const match = /^(\S+)\s*([\s\S]*)$/.exec(original)!;
  let rest = match[2]!;
  const flags: string[] = [];
  for (;;) {
    const flag = /^(--\S*)\s*/.exec(rest);
    if (!flag) break;
    if (flag[1] === '--') { rest = rest.slice(flag[0].length); break; }
    flags.push(flag[1]!);
    rest = rest.slice(flag[0].length);
  }
  return { command: match[1]!.toLowerCase(), flags, rest: rest.trim(), original };
}

/**
 * Applies one metadata instruction (those of VALID_CHANGE_COMMANDS) to `config`, in place.
 * `state.cmdSet` says whether CMD was set in this stage (ENTRYPOINT resets an inherited CMD);
 * `state.buildArgs` ("NAME=value") take part in variable expansion below the config's Env.
 */
export function applyInstruction(config: ContainerConfig, instruction: Instruction, state: { cmdSet: boolean; buildArgs?: readonly string[] }): void {
  const { command, rest } = instruction;
  const flagValues = parseFlags(instruction, command === 'healthcheck' ? ['interval', 'timeout', 'start-period', 'start-interval', 'retries'] : []);
  const expand = (word: string) => processWord(word, [...(state.buildArgs ?? []), ...(config.Env ?? [])]);
  switch (command) {
    case 'env': {
      for (const [key, value] of parseNameValues(rest, 'ENV')) setEnv(config, expand(key), expand(value));
      return;
    }
    case 'label': {
      const labels = config.Labels ?? {};
      for (const [key, value] of parseNameValues(rest, 'LABEL')) labels[expand(key)] = expand(value);
      config.Labels = labels;
      return;
    }
    case 'cmd':
      config.Cmd = parseJsonArray(rest) ?? [...(config.Shell ?? DEFAULT_SHELL), rest];
      state.cmdSet = true;
      return;
    case 'entrypoint': {
      const json = parseJsonArray(rest);
      if (json) config.Entrypoint = json;
      else config.Entrypoint = rest === '' ? null : [...(config.Shell ?? DEFAULT_SHELL), rest];
      if (!state.cmdSet) config.Cmd = null;
      return;
    }
    case 'expose': {
      const words = rest.split(/\s+/).filter((word) => word !== '');
      if (words.length === 0) throw badParameter('EXPOSE requires at least one argument');
      const ports = config.ExposedPorts ?? {};
      for (const word of words) for (const port of exposedPorts(expand(word))) ports[port] = {};
      config.ExposedPorts = ports;
      return;
    }
    case 'user':
      requireArgument(rest, 'USER');
      config.User = expand(rest);
      return;
    case 'workdir': {
      requireArgument(rest, 'WORKDIR');
      const requested = expand(rest);
      config.WorkingDir = requested.startsWith('/') ? requested : cleanPath(`/${config.WorkingDir ?? ''}/${requested}`);
      return;
    }
    case 'stopsignal': {
      requireArgument(rest, 'STOPSIGNAL');
      const signal = expand(rest);
      if (!isValidSignal(signal)) throw badParameter(`Invalid signal: ${signal}`);
      config.StopSignal = signal;
      return;
    }
    case 'volume': {
      const json = parseJsonArray(rest);
      const paths = json ?? rest.split(/\s+/).filter((word) => word !== '');
      if (paths.length === 0) throw badParameter('VOLUME requires at least one argument');
      const volumes = config.Volumes ?? {};
      for (const raw of paths) {
        const path = expand(raw.trim());
        if (path === '') throw badParameter('VOLUME specified can not be an empty string');
        volumes[path] = {};
      }
      config.Volumes = volumes;
      return;
    }
    case 'onbuild': {
      requireArgument(rest, 'ONBUILD');
      const trigger = rest.split(/\s+/)[0]!.toUpperCase();
      if (trigger === 'ONBUILD') throw badParameter('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'FROM' || trigger === 'MAINTAINER') throw badParameter(`${trigger} isn't allowed as an ONBUILD trigger`);
      config.OnBuild = [...(config.OnBuild ?? []), instruction.original.replace(/^\s*ONBUILD\s*/i, '')];
      return;
    }
    case 'healthcheck':
      config.Healthcheck = healthcheck(rest, flagValues);
      return;
  }
}

function requireArgument(rest: string, name: string): void {
  if (rest === '') throw badParameter(`${name} requires exactly one argument`);
}

function parseFlags(instruction: Instruction, allowed: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const flag of instruction.flags) {
    const body = flag.slice(2);
    const equals = body.indexOf('=');
    const name = equals >= 0 ? body.slice(0, equals) : body;
    if (!allowed.includes(name)) throw badParameter(`Unknown flag: ${name}`);
    if (equals < 0) throw badParameter(`Missing a value on flag: ${flag}`);
    values.set(name, body.slice(equals + 1));
  }
  return values;
}

/** The JSON ("exec") form of CMD/ENTRYPOINT/VOLUME, or undefined for the shell form. */
function parseJsonArray(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(rest);
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
  } catch {
    // Not JSON: Docker falls back to the shell form.
  }
  return undefined;
}

function setEnv(config: ContainerConfig, key: string, value: string): void {
  const env = config.Env ? [...config.Env] : [];
  const index = env.findIndex((entry) => entry.split('=', 1)[0] === key);
  if (index >= 0) env[index] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  config.Env = env;
}

/** ENV/LABEL arguments: "a=b c=d" or the legacy "key value with spaces". */
function parseNameValues(rest: string, name: string): Array<[string, string]> {
  const words = splitWords(rest);
  if (words.length === 0) throw badParameter(`${name} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const legacy = /^(\S+)\s+([\s\S]+)$/.exec(rest);
    if (!legacy) throw badParameter(`${name} must have two arguments`);
    return [[legacy[1]!, legacy[2]!]];
  }
  return words.map((word) => {
    const equals = word.indexOf('=');
    if (equals === -1) throw badParameter(`Syntax error - can't find = in "${word}". Must be of the form: name=value`);
    if (equals === 0) throw badParameter(`${name} names can not be blank`);
    return [word.slice(0, equals), word.slice(equals + 1)];
  });
}

/** Splits on blanks outside quotes; quotes and escapes are kept for processWord to interpret. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (!inWord) {
      if (/\s/.test(ch)) continue;
      inWord = true;
    }
    if (quote === '' && /\s/.test(ch)) {
      words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    if (ch === ESCAPE && quote !== "'") {
      word += ch;
      if (i + 1 < text.length) word += text[++i];
      continue;
    }
    if (quote !== '' && ch === quote) quote = '';
    else if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}

/** Quote removal and $VAR / ${VAR} / ${VAR:-x} / ${VAR:+x} expansion, as the Dockerfile shell lexer does. */
export function processWord(word: string, env: readonly string[]): string {
  const lookup = (name: string): string | undefined => {
    for (let i = env.length - 1; i >= 0; i--) {
      const entry = env[i]!;
      const equals = entry.indexOf('=');
      if (equals >= 0 && entry.slice(0, equals) === name) return entry.slice(equals + 1);
    }
    return undefined;
  };
  let out = '';
  let i = 0;
  const expandAt = (): string => {
    // word[i] === '$'
    const next = word[i + 1];
    if (next === '{') {
      const close = word.indexOf('}', i + 2);
      if (close === -1) throw badParameter(`failed to process "${word}": missing '}'`);
      const inner = word.slice(i + 2, close);
      i = close + 1;
      const modifier = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(inner);
      if (!modifier) throw badParameter(`failed to process "${word}": unsupported modifier in \${${inner}}`);
      const value = lookup(modifier[1]!);
      if (modifier[2] === '-') return value ? value : processWord(modifier[3]!, env);
      if (modifier[2] === '+') return value ? processWord(modifier[3]!, env) : '';
      return value ?? '';
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i + 1));
    if (!name) { i++; return '$'; }
    i += 1 + name[0].length;
    return lookup(name[0]) ?? '';
  };
  while (i < word.length) {
    const ch = word[i]!;
    if (ch === "'") {
      const close = word.indexOf("'", i + 1);
      if (close === -1) throw badParameter(`failed to process "${word}": unexpected end of statement while looking for matching single-quote`);
      out += word.slice(i + 1, close);
      i = close + 1;
    } else if (ch === '"') {
      i++;
      for (;;) {
        if (i >= word.length) throw badParameter(`failed to process "${word}": unexpected end of statement while looking for matching double-quote`);
        const inner = word[i]!;
        if (inner === '"') { i++; break; }
        if (inner === ESCAPE && i + 1 < word.length && '"$\\'.includes(word[i + 1]!)) { out += word[i + 1]; i += 2; continue; }
        if (inner === '$') { out += expandAt(); continue; }
        out += inner;
        i++;
      }
    } else if (ch === ESCAPE) {
      if (i + 1 < word.length) out += word[i + 1];
      i += 2;
    } else if (ch === '$') {
      out += expandAt();
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** "80" -> ["80/tcp"], "53/udp" -> ["53/udp"], "8000-8001" -> ["8000/tcp", "8001/tcp"]. */
function exposedPorts(spec: string): string[] {
  // A published form ("8080:80") exposes the container side.
  const containerPart = spec.slice(spec.lastIndexOf(':') + 1);
  const [range, protocol = 'tcp'] = containerPart.split('/');
  const match = /^(\d+)(?:-(\d+))?$/.exec(range ?? '');
  if (!match || !/^(tcp|udp|sctp)$/i.test(protocol)) throw badParameter(`invalid containerPort: ${containerPart}`);
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  if (start > 65535 || end > 65535 || end < start) throw badParameter(`invalid containerPort: ${containerPart}`);
  const ports: string[] = [];
  for (let port = start; port <= end; port++) ports.push(`${port}/${protocol.toLowerCase()}`);
  return ports;
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF',
  'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'UNUSED', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
]);

function isValidSignal(signal: string): boolean {
  if (/^\d+$/.test(signal)) return Number(signal) > 0 && Number(signal) <= 64;
  const name = signal.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(name);
}

function healthcheck(rest: string, flags: Map<string, string>): HealthConfig {
  const words = rest.split(/\s+/).filter((word) => word !== '');
  const type = (words[0] ?? '').toUpperCase();
  if (type === 'NONE') {
    if (words.length > 1) throw badParameter('HEALTHCHECK NONE takes no arguments');
    if (flags.size > 0) throw badParameter('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (type !== 'CMD') throw badParameter(`Unknown type "${words[0] ?? ''}" in HEALTHCHECK (try CMD)`);
  const commandText = rest.replace(/^\S+\s*/, '');
  if (commandText === '') throw badParameter('Missing command after HEALTHCHECK CMD');
  const json = parseJsonArray(commandText);
  const health: HealthConfig = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', commandText] };
  const interval = flags.get('interval');
  if (interval !== undefined) health.Interval = parseInterval('--interval', interval);
  const timeout = flags.get('timeout');
  if (timeout !== undefined) health.Timeout = parseInterval('--timeout', timeout);
  const startPeriod = flags.get('start-period');
  if (startPeriod !== undefined) health.StartPeriod = parseInterval('--start-period', startPeriod);
  const retries = flags.get('retries');
  if (retries !== undefined) {
    if (!/^-?\d+$/.test(retries)) throw badParameter(`strconv.ParseInt: parsing "${retries}": invalid syntax`);
    const count = Number(retries);
    if (count < 0) throw badParameter('--retries cannot be negative');
    health.Retries = count;
  }
  return health;
}

/** A Go duration in nanoseconds; 0 means the default; otherwise at least 1ms (moby's parseOptInterval). */
function parseInterval(flag: string, text: string): number {
  let value: number;
  try {
    value = Math.round(parseGoDuration(text) * 1e6);
  } catch (error) {
    throw badParameter((error as Error).message);
  }
  if (value !== 0 && value < 1e6) throw badParameter(`Interval "${flag.slice(2)}" cannot be less than 1ms`);
  return value;
}
