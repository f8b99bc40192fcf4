// Unit tests for the pflag-compatible flag parser and docker-style help block.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, formatFlagHelp, parseFlags, parseGoInt } from '../../src/cli/flags.js';
import type { FlagSpec } from '../../src/cli/flags.js';

const RUN_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'rm', type: 'bool', description: 'Automatically remove the container when it exits' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'publish', short: 'p', type: 'list', description: "Publish a container's port(s) to the host" },
  { name: 'memory', short: 'm', type: 'string', description: 'Memory limit', valueName: 'bytes' },
  { name: 'sysctl', type: 'map', description: 'Sysctl options' },
  { name: 'last', short: 'n', type: 'int', description: 'Show n last created containers', default: -1 },
  { name: 'log-driver', type: 'string', description: 'Logging driver', default: 'json-file' },
];

function parse(argv: string[], interspersed = true) {
  return parseFlags(argv, RUN_FLAGS, { interspersed });
}

describe('parseFlags', () => {
  it('applies defaults for flags that were not given', () => {
    const { flags, positional, changed } = parse([]);
    assert.equal(flags.detach, false);
    assert.equal(flags.rm, false);
    assert.deepEqual(flags.env, []);
    assert.deepEqual(flags.sysctl, []);
    assert.equal(flags.name, undefined);
    assert.equal(flags.last, -1);
    assert.equal(flags['log-driver'], 'json-file');
    assert.equal(flags.help, false);
    assert.deepEqual(positional, []);
    assert.equal(changed.size, 0);
  });

  it('parses long flags with = and with a separate value', () => {
    const { flags, changed } = parse(['--name=web', '--memory', '512m']);
    assert.equal(flags.name, 'web');
    assert.equal(flags.memory, '512m');
    assert.deepEqual([...changed].sort(), ['memory', 'name']);
  });

  it('a long flag consumes the next argument even if it starts with a dash', () => {
    assert.equal(parse(['--name', '-x']).flags.name, '-x');
  });

  it('accepts an empty value with =', () => {
    assert.equal(parse(['--name=']).flags.name, '');
  });

  it('parses short flags with separate, attached and = values', () => {
    assert.equal(parse(['-m', '1g']).flags.memory, '1g');
    assert.equal(parse(['-m1g']).flags.memory, '1g');
    assert.equal(parse(['-m=1g']).flags.memory, '1g');
    assert.deepEqual(parse(['-p80:80']).flags.publish, ['80:80']);
  });

  it('combines boolean shorthands', () => {
    const { flags } = parse(['-dit']);
    assert.equal(flags.detach, true);
    assert.equal(flags.interactive, true);
    assert.equal(flags.tty, true);
  });

  it('combines booleans with a trailing valued shorthand', () => {
    const { flags } = parse(['-itp', '8080:80']);
    assert.equal(flags.interactive, true);
    assert.equal(flags.tty, true);
    assert.deepEqual(flags.publish, ['8080:80']);
    assert.deepEqual(parse(['-dp8080:80']).flags.publish, ['8080:80']);
  });

  it('takes explicit boolean values only with =', () => {
    assert.equal(parse(['--rm=false']).flags.rm, false);
    assert.equal(parse(['--rm=true']).flags.rm, true);
    assert.equal(parse(['--rm=1']).flags.rm, true);
    assert.equal(parse(['--rm=F']).flags.rm, false);
    assert.equal(parse(['-d=false']).flags.detach, false);
    const { flags, positional } = parse(['--rm', 'false']);
    assert.equal(flags.rm, true);
    assert.deepEqual(positional, ['false']);
  });

  it('rejects a bad boolean value with pflag wording', () => {
    assert.throws(
      () => parse(['--rm=maybe']),
      new FlagError('invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
    );
  });

  it('accumulates repeated list and map flags', () => {
    const { flags } = parse(['-e', 'A=1', '--env=B=2', '-eC=3', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'a=b']);
    assert.deepEqual(flags.env, ['A=1', 'B=2', 'C=3']);
    assert.deepEqual(flags.sysctl, ['net.ipv4.ip_forward=1', 'a=b']);
  });

  it('does not split list values at commas', () => {
    assert.deepEqual(parse(['-e', 'A=1,2']).flags.env, ['A=1,2']);
  });

  it('parses int flags with Go syntax', () => {
    assert.equal(parse(['-n', '5']).flags.last, 5);
    assert.equal(parse(['--last=-2']).flags.last, -2);
    assert.equal(parse(['-n0x10']).flags.last, 16);
  });

  it('reports invalid int values like strconv', () => {
    assert.throws(
      () => parse(['-n', 'abc']),
      new FlagError('invalid argument "abc" for "-n, --last" flag: strconv.ParseInt: parsing "abc": invalid syntax'),
    );
    assert.throws(
      () => parse(['--last=99999999999999999999']),
      new FlagError(
        'invalid argument "99999999999999999999" for "-n, --last" flag: strconv.ParseInt: parsing "99999999999999999999": value out of range',
      ),
    );
  });

  it('interleaves flags and positionals by default', () => {
    const { flags, positional } = parse(['a', '-d', 'b', '--rm', 'c']);
    assert.deepEqual(positional, ['a', 'b', 'c']);
    assert.equal(flags.detach, true);
    assert.equal(flags.rm, true);
  });

  it('stops at the first positional when not interspersed (docker run IMAGE CMD...)', () => {
    const { flags, positional } = parse(['-it', '--rm', 'busybox', 'ls', '-l', '--rm', '-e', 'X'], false);
    assert.equal(flags.interactive, true);
    assert.equal(flags.rm, true);
    assert.deepEqual(flags.env, []);
    assert.deepEqual(positional, ['busybox', 'ls', '-l', '--rm', '-e', 'X']);
  });

  it('ends flags at --', () => {
    const { flags, positional } = parse(['-d', '--', '-e', 'x', '--rm']);
    assert.equal(flags.detach, true);
    assert.deepEqual(flags.env, []);
    assert.deepEqual(positional, ['-e', 'x', '--rm']);
  });

  it('treats a lone - as a positional', () => {
    assert.deepEqual(parse(['-', '-d']).positional, ['-']);
    assert.deepEqual(parse(['-', '-d'], false).positional, ['-', '-d']);
  });

  it('adds -h/--help to every command', () => {
    assert.equal(parse(['-h']).flags.help, true);
    assert.equal(parse(['--help']).flags.help, true);
    assert.equal(parseFlags(['--help'], []).flags.help, true);
  });

  it('keeps a command-defined -h shorthand for the command', () => {
    const specs: FlagSpec[] = [{ name: 'host', short: 'h', type: 'string', description: 'Host' }];
    const { flags } = parseFlags(['-h', 'x', '--help'], specs);
    assert.equal(flags.host, 'x');
    assert.equal(flags.help, true);
  });

  it('reports unknown flags with pflag wording', () => {
    assert.throws(() => parse(['--foo']), new FlagError('unknown flag: --foo'));
    assert.throws(() => parse(['--foo=bar']), new FlagError('unknown flag: --foo'));
    assert.throws(() => parse(['-x']), new FlagError("unknown shorthand flag: 'x' in -x"));
    assert.throws(() => parse(['-dx']), new FlagError("unknown shorthand flag: 'x' in -x"));
  });

  it('reports missing values with pflag wording', () => {
    assert.throws(() => parse(['--name']), new FlagError('flag needs an argument: --name'));
    assert.throws(() => parse(['-m']), new FlagError("flag needs an argument: 'm' in -m"));
    assert.throws(() => parse(['-dm']), new FlagError("flag needs an argument: 'm' in -m"));
  });

  it('rejects bad flag syntax', () => {
    assert.throws(() => parse(['---x']), new FlagError('bad flag syntax: ---x'));
    assert.throws(() => parse(['--=x']), new FlagError('bad flag syntax: --=x'));
  });

  it('FlagError is an Error', () => {
    try {
      parse(['--nope']);
      assert.fail('expected a throw');
    } catch (err) {
      assert.ok(err instanceof FlagError);
      assert.ok(err instanceof Error);
    }
  });
});

describe('parseGoInt', () => {
  it('follows strconv.ParseInt with base 0', () => {
    assert.equal(parseGoInt('42'), 42);
    assert.equal(parseGoInt('-42'), -42);
    assert.equal(parseGoInt('+7'), 7);
    assert.equal(parseGoInt('0x1F'), 31);
    assert.equal(parseGoInt('0o17'), 15);
    assert.equal(parseGoInt('017'), 15);
    assert.equal(parseGoInt('0b101'), 5);
    assert.equal(parseGoInt('1_000'), 1000);
    assert.equal(parseGoInt('0'), 0);
    for (const bad of ['', '1.5', '08', '_1', '1__0', '1_', '0x', 'abc', ' 1']) {
      assert.throws(() => parseGoInt(bad), /invalid syntax/, bad);
    }
  });
});

describe('formatFlagHelp', () => {
  it('renders the Options block like docker ps --help', () => {
    const specs: FlagSpec[] = [
      { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
      { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided', valueName: 'filter' },
      { name: 'format', type: 'string', description: 'Format output using a custom template' },
      { name: 'last', short: 'n', type: 'int', description: 'Show n last created containers (includes all states)', default: -1 },
      { name: 'latest', short: 'l', type: 'bool', description: 'Show the latest created container (includes all states)' },
      { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
      { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
      { name: 'secret', type: 'bool', description: 'hidden', hidden: true },
    ];
    assert.equal(
      formatFlagHelp(specs),
      [
        '  -a, --all             Show all containers (default shows just running)',
        '  -f, --filter filter   Filter output based on conditions provided',
        '      --format string   Format output using a custom template',
        '  -n, --last int        Show n last created containers (includes all states) (default -1)',
        '  -l, --latest          Show the latest created container (includes all states)',
        "      --no-trunc        Don't truncate output",
        '  -q, --quiet           Only display container IDs',
        '  -s, --size            Display total file sizes',
      ].join('\n'),
    );
  });

  it('sorts by name, quotes string defaults, shows list types, indents continuation lines', () => {
    const specs: FlagSpec[] = [
      { name: 'publish', short: 'p', type: 'list', description: "Publish a container's port(s) to the host" },
      { name: 'log-driver', type: 'string', description: 'Logging driver for the container', default: 'json-file' },
      { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode:\nrun in background' },
      { name: 'init', type: 'bool', description: 'Run an init', default: true },
      { name: 'sysctl', type: 'map', description: 'Sysctl options' },
    ];
    assert.equal(
      formatFlagHelp(specs),
      [
        '  -d, --detach              Detached mode:',
        '                            run in background',
        '      --init                Run an init (default true)',
        '      --log-driver string   Logging driver for the container (default "json-file")',
        "  -p, --publish list        Publish a container's port(s) to the host",
        '      --sysctl map          Sysctl options',
      ].join('\n'),
    );
  });
});
