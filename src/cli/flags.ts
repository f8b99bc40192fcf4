// Command-line flag parsing with the grammar and error wording of spf13/pflag as the docker CLI
// configures it, plus the "Options:" block of docker's --help output.

export type FlagType = 'bool' | 'string' | 'list' | 'int' | 'map';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  description: string;
  default?: string | boolean | number;
  hidden?: boolean;
  /** Value placeholder shown in help (docker shows e.g. "bytes", "decimal", "filter"); defaults from the type. */
  valueName?: string;
}

export type FlagValues = Record<string, string | boolean | number | string[] | undefined>;

export class FlagError extends Error {
  override name = 'FlagError';
}

export interface ParsedFlags {
  flags: FlagValues;
  positional: string[];
  /** Long names of the flags that appeared on the command line (pflag's Changed). */
  changed: Set<string>;
}

const HELP_FLAG: FlagSpec = { name: 'help', type: 'bool', description: 'Print usage', hidden: true };

function withHelp(specs: FlagSpec[]): FlagSpec[] {
  if (specs.some((s) => s.name === 'help')) return specs;
  const shortTaken = specs.some((s) => s.short === 'h');
  return [...specs, shortTaken ? HELP_FLAG : { ...HELP_FLAG, short: 'h' }];
}

function displayName(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseInt(s, 0, 64): optional sign, 0x/0o/0b/leading-0 prefixes, "_" between digits. */
/** "key=value" list flags (--label, volume --opt) as a map; a bare key has an empty value. */
export function keyValueMap(values: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of values) {
    const equals = item.indexOf('=');
    if (equals === -1) map[item] = '';
    else map[item.slice(0, equals)] = item.slice(equals + 1);
  }
  return map;
}

export function parseGoInt(text: string): number {
  const syntaxError = (): Error => new Error(`strconv.ParseInt: parsing ${goQuote(text)}: invalid syntax`);
  let body = text;
  let negative = false;
  if (body[0] === '+' || body[0] === '-') {
    negative = body[0] === '-';
    body = body.slice(1);
  }
  let radix = 10;
  let digits = body;
  const prefix = body.slice(0, 2).toLowerCase();
  if (prefix === '0x' || prefix === '0o' || prefix === '0b') {
    radix = prefix === '0x' ? 16 : prefix === '0o' ? 8 : 2;
    digits = body.slice(2);
  } else if (body.length > 1 && body[0] === '0') {
    radix = 8;
    digits = body.slice(1);
  }
  const hasPrefix = radix !== 10;
  if (!/^_?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/.test(digits) || (digits.startsWith('_') && !hasPrefix)) {
    throw syntaxError();
  }
  const clean = digits.replace(/_/g, '');
  const validDigit = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 10 ? /^[0-9]+$/ : radix === 8 ? /^[0-7]+$/ : /^[01]+$/;
  if (!validDigit.test(clean)) throw syntaxError();
  const bigPrefix = radix === 16 ? '0x' : radix === 8 ? '0o' : radix === 2 ? '0b' : '';
  let value = BigInt(bigPrefix + clean);
  if (negative) value = -value;
  if (value > 9223372036854775807n || value < -9223372036854775808n) {
    throw new Error(`strconv.ParseInt: parsing ${goQuote(text)}: value out of range`);
  }
  return Number(value);
}

function goQuote(text: string): string {
  return JSON.stringify(text);
}

function defaultValue(spec: FlagSpec): string | boolean | number | string[] | undefined {
  switch (spec.type) {
    case 'bool':
      return typeof spec.default === 'boolean' ? spec.default : false;
    case 'list':
    case 'map':
      return [];
    default:
      return spec.default;
  }
}

/**
 * Parse argv (without the command name) against specs. With interspersed=false, the first
 * positional argument ends flag parsing (docker run IMAGE CMD..., docker exec CONTAINER CMD...).
 */
export function parseFlags(
  argv: string[],
  specs: FlagSpec[],
  options: { interspersed?: boolean } = {},
): ParsedFlags {
  const interspersed = options.interspersed ?? true;
  const all = withHelp(specs);
  const byName = new Map(all.map((s) => [s.name, s]));
  const byShort = new Map(all.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: FlagValues = {};
  for (const spec of all) flags[spec.name] = defaultValue(spec);
  const positional: string[] = [];
  const changed = new Set<string>();

  const assign = (spec: FlagSpec, value: string): void => {
    changed.add(spec.name);
    switch (spec.type) {
      case 'bool':
        if (TRUE_WORDS.has(value)) flags[spec.name] = true;
        else if (FALSE_WORDS.has(value)) flags[spec.name] = false;
        else {
          throw new FlagError(
            `invalid argument ${goQuote(value)} for ${goQuote(displayName(spec))} flag: strconv.ParseBool: parsing ${goQuote(value)}: invalid syntax`,
          );
        }
        return;
      case 'int':
        try {
          flags[spec.name] = parseGoInt(value);
        } catch (err) {
          throw new FlagError(
            `invalid argument ${goQuote(value)} for ${goQuote(displayName(spec))} flag: ${(err as Error).message}`,
          );
        }
        return;
      case 'list':
      case 'map': {
        const current = flags[spec.name];
        flags[spec.name] = [...(Array.isArray(current) ? current : []), value];
        return;
      }
      default:
        flags[spec.name] = value;
    }
  };

  let rest = [...argv];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    if (arg.length === 0 || arg[0] !== '-' || arg.length === 1) {
      if (!interspersed) {
        positional.push(arg, ...rest);
        rest = [];
        break;
      }
      positional.push(arg);
      continue;
    }
    if (arg[1] === '-') {
      if (arg.length === 2) {
        positional.push(...rest);
        rest = [];
        break;
      }
      const body = arg.slice(2);
      if (body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${arg}`);
      const eq = body.indexOf('=');
      const name = eq === -1 ? body : body.slice(0, eq);
      const spec = byName.get(name);
      if (!spec) throw new FlagError(`unknown flag: --${name}`);
      if (eq !== -1) assign(spec, body.slice(eq + 1));
      else if (spec.type === 'bool') assign(spec, 'true');
      else if (rest.length > 0) assign(spec, rest.shift()!);
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    let shorthands = arg.slice(1);
    while (shorthands.length > 0) {
      const char = shorthands[0]!;
      const spec = byShort.get(char);
      if (!spec) throw new FlagError(`unknown shorthand flag: '${char}' in -${shorthands}`);
      if (shorthands.length > 2 && shorthands[1] === '=') {
        assign(spec, shorthands.slice(2));
        shorthands = '';
      } else if (spec.type === 'bool') {
        assign(spec, 'true');
        shorthands = shorthands.slice(1);
      } else if (shorthands.length > 1) {
        assign(spec, shorthands.slice(1));
        shorthands = '';
      } else if (rest.length > 0) {
        assign(spec, rest.shift()!);
        shorthands = '';
      } else {
        throw new FlagError(`flag needs an argument: '${char}' in -${shorthands}`);
      }
    }
  }
  return { flags, positional, changed };
}

function valuePlaceholder(spec: FlagSpec): string {
  if (spec.valueName !== undefined) return spec.valueName;
  switch (spec.type) {
    case 'bool':
      return '';
    default:
      return spec.type;
  }
}

function defaultSuffix(spec: FlagSpec): string {
  const value = spec.default;
  if (value === undefined) return '';
  if (spec.type === 'bool') return value === true ? ' (default true)' : '';
  if (spec.type === 'int') return value === 0 ? '' : ` (default ${value})`;
  if (spec.type === 'string') return value === '' ? '' : ` (default ${goQuote(String(value))})`;
  return '';
}

/**
 * The "Options:" body of docker's --help: flags sorted by name, descriptions aligned three
 * spaces after the longest "-x, --name type" column, continuation lines indented to match.
 */
export function formatFlagHelp(specs: FlagSpec[]): string {
  const visible = withHelp(specs)
    .filter((s) => !s.hidden)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rows = visible.map((spec) => {
    let left = spec.short ? `  -${spec.short}, --${spec.name}` : `      --${spec.name}`;
    const placeholder = valuePlaceholder(spec);
    if (placeholder) left += ` ${placeholder}`;
    return { left, text: spec.description + defaultSuffix(spec) };
  });
  const width = Math.max(0, ...rows.map((r) => r.left.length)) + 3;
  return rows
    .map(({ left, text }) => left.padEnd(width) + text.replace(/\n/g, '\n' + ' '.repeat(width)))
    .join('\n');
}
