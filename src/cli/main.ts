// Entry point of the `berth` CLI: global flags, the command table and dispatch. The build makes
// one CommonJS bundle of it that dist/berth.js runs from V8's code cache (scripts/cli-entry.cjs);
// a command's modules, imported with import() below, are evaluated only when that command runs.
// Node's built-ins that only some commands need load on first use (src/util/builtins.ts).

import { executeCommand, type CommandSpec, type CliContext } from './command.js';
import { EngineClient } from '../client/engine-client.js';
import { resolveConnection } from './contexts.js';
import { restoreExtraCaCerts } from './extra-ca-certs.js';
import { ClientConfig, configDir } from './credentials.js';
import { FlagError, formatFlagHelp, parseFlags } from './flags.js';
import type { FlagSpec } from './flags.js';
import { BERTH_GIT_COMMIT, BERTH_VERSION } from './version-info.js';

type Loader = () => Promise<CommandSpec>;

/** Loads command code; with BERTH_TRACE=1 the time goes to the trace's cli.modules.load. */
async function loadModule<T>(load: () => Promise<T>): Promise<T> {
  if (process.env.BERTH_TRACE !== '1') return load();
  const { performance } = globalThis as unknown as { performance: import('node:perf_hooks').Performance };
  const started = performance.now();
  const loaded = await load();
  (await import('../util/trace.js')).traceRecord('cli.modules.load', performance.now() - started);
  return loaded;
}

interface TopCommand {
  summary: string;
  category: 'common' | 'management' | 'other';
  load?: Loader;
  /** Management commands: subcommand name → loader (aliases share a loader). */
  sub?: Record<string, { summary: string; load: Loader; hidden?: boolean }>;
}

const run: Loader = () => import('./commands/run.js').then((m) => m.runCommand);
const exec: Loader = () => import('./commands/exec.js').then((m) => m.execCommand);
const create: Loader = () => import('./commands/run.js').then((m) => m.createCommand);
const ps: Loader = () => import('./commands/ps.js').then((m) => m.psCommand);
const attach: Loader = () => import('./commands/containers.js').then((m) => m.attachCommand);
const start: Loader = () => import('./commands/containers.js').then((m) => m.startCommand);
const stop: Loader = () => import('./commands/containers.js').then((m) => m.stopCommand);
const kill: Loader = () => import('./commands/containers.js').then((m) => m.killCommand);
const restart: Loader = () => import('./commands/containers.js').then((m) => m.restartCommand);
const rm: Loader = () => import('./commands/containers.js').then((m) => m.rmCommand);
const wait: Loader = () => import('./commands/containers.js').then((m) => m.waitCommand);
const rename: Loader = () => import('./commands/containers.js').then((m) => m.renameCommand);
const logs: Loader = () => import('./commands/containers.js').then((m) => m.logsCommand);
const inspect: Loader = () => import('./commands/inspect.js').then((m) => m.inspectCommand);
const containerInspect: Loader = () => import('./commands/inspect.js').then((m) => m.containerInspectCommand);
const imageInspect: Loader = () => import('./commands/inspect.js').then((m) => m.imageInspectCommand);
const images: Loader = () => import('./commands/images.js').then((m) => m.imagesCommand);
const importImage: Loader = () => import('./commands/images.js').then((m) => m.importCommand);
const tag: Loader = () => import('./commands/images.js').then((m) => m.tagCommand);
const rmi: Loader = () => import('./commands/images.js').then((m) => m.rmiCommand);
const history: Loader = () => import('./commands/images.js').then((m) => m.historyCommand);
const save: Loader = () => import('./commands/images.js').then((m) => m.saveCommand);
const load: Loader = () => import('./commands/images.js').then((m) => m.loadCommand);
const imagePrune: Loader = () => import('./commands/images.js').then((m) => m.imagePruneCommand);
const pull: Loader = () => import('./commands/distribution.js').then((m) => m.pullCommand);
const push: Loader = () => import('./commands/distribution.js').then((m) => m.pushCommand);
const login: Loader = () => import('./commands/login.js').then((m) => m.loginCommand);
const logout: Loader = () => import('./commands/login.js').then((m) => m.logoutCommand);
const search: Loader = () => import('./commands/login.js').then((m) => m.searchCommand);
const build: Loader = () => import('./commands/build.js').then((m) => m.buildCommand);
const commit: Loader = () => import('./commands/build.js').then((m) => m.commitCommand);
const version: Loader = () => import('./commands/system.js').then((m) => m.versionCommand);
const info: Loader = () => import('./commands/system.js').then((m) => m.infoCommand);
const events: Loader = () => import('./commands/system.js').then((m) => m.eventsCommand);
const pause: Loader = () => import('./commands/process.js').then((m) => m.pauseCommand);
const unpause: Loader = () => import('./commands/process.js').then((m) => m.unpauseCommand);
const topCommand: Loader = () => import('./commands/process.js').then((m) => m.topCommand);
const stats: Loader = () => import('./commands/process.js').then((m) => m.statsCommand);
const update: Loader = () => import('./commands/process.js').then((m) => m.updateCommand);
const cp: Loader = () => import('./commands/files.js').then((m) => m.cpCommand);
const diff: Loader = () => import('./commands/files.js').then((m) => m.diffCommand);
const exportContainer: Loader = () => import('./commands/files.js').then((m) => m.exportCommand);
const port: Loader = () => import('./commands/files.js').then((m) => m.portCommand);

const contextCommand = (name: string): Loader => () => import('./commands/context.js').then((m) => m.CONTEXT_COMMANDS[name]!);

const COMMANDS: Record<string, TopCommand> = {
  run: { summary: 'Create and run a new container from an image', category: 'common', load: run },
  exec: { summary: 'Execute a command in a running container', category: 'common', load: exec },
  ps: { summary: 'List containers', category: 'common', load: ps },
  build: { summary: 'Build an image from a Dockerfile', category: 'common', load: build },
  images: { summary: 'List images', category: 'common', load: images },
  pull: { summary: 'Download an image from a registry', category: 'common', load: pull },
  push: { summary: 'Upload an image to a registry', category: 'common', load: push },
  login: { summary: 'Authenticate to a registry', category: 'common', load: login },
  logout: { summary: 'Log out from a registry', category: 'common', load: logout },
  search: { summary: 'Search Docker Hub for images', category: 'common', load: search },
  version: { summary: 'Show the Docker version information', category: 'common', load: version },
  info: { summary: 'Display system-wide information', category: 'common', load: info },
  container: {
    summary: 'Manage containers',
    category: 'management',
    sub: {
      attach: { summary: 'Attach local standard input, output, and error streams to a running container', load: attach },
      commit: { summary: "Create a new image from a container's changes", load: commit },
      cp: { summary: 'Copy files/folders between a container and the local filesystem', load: cp },
      create: { summary: 'Create a new container', load: create },
      diff: { summary: "Inspect changes to files or directories on a container's filesystem", load: diff },
      exec: { summary: 'Execute a command in a running container', load: exec },
      export: { summary: "Export a container's filesystem as a tar archive", load: exportContainer },
      inspect: { summary: 'Display detailed information on one or more containers', load: containerInspect },
      kill: { summary: 'Kill one or more running containers', load: kill },
      logs: { summary: 'Fetch the logs of a container', load: logs },
      ls: { summary: 'List containers', load: ps },
      pause: { summary: 'Pause all processes within one or more containers', load: pause },
      port: { summary: 'List port mappings or a specific mapping for the container', load: port },
      prune: { summary: 'Remove all stopped containers', load: () => import('./commands/prune.js').then((m) => m.containerPruneCommand) },
      list: { summary: 'List containers', load: ps, hidden: true },
      ps: { summary: 'List containers', load: ps, hidden: true },
      rename: { summary: 'Rename a container', load: rename },
      restart: { summary: 'Restart one or more containers', load: restart },
      rm: { summary: 'Remove one or more containers', load: rm },
      remove: { summary: 'Remove one or more containers', load: rm, hidden: true },
      run: { summary: 'Create and run a new container from an image', load: run },
      start: { summary: 'Start one or more stopped containers', load: start },
      stats: { summary: 'Display a live stream of container(s) resource usage statistics', load: stats },
      stop: { summary: 'Stop one or more running containers', load: stop },
      top: { summary: 'Display the running processes of a container', load: topCommand },
      unpause: { summary: 'Unpause all processes within one or more containers', load: unpause },
      update: { summary: 'Update configuration of one or more containers', load: update },
      wait: { summary: 'Block until one or more containers stop, then print their exit codes', load: wait },
    },
  },
  image: {
    summary: 'Manage images',
    category: 'management',
    sub: {
      build: { summary: 'Build an image from a Dockerfile', load: build },
      history: { summary: 'Show the history of an image', load: history },
      import: { summary: 'Import the contents from a tarball to create a filesystem image', load: importImage },
      inspect: { summary: 'Display detailed information on one or more images', load: imageInspect },
      load: { summary: 'Load an image from a tar archive or STDIN', load },
      ls: { summary: 'List images', load: images },
      prune: { summary: 'Remove unused images', load: imagePrune },
      pull: { summary: 'Download an image from a registry', load: pull },
      push: { summary: 'Upload an image to a registry', load: push },
      list: { summary: 'List images', load: images, hidden: true },
      rm: { summary: 'Remove one or more images', load: rmi },
      remove: { summary: 'Remove one or more images', load: rmi, hidden: true },
      save: { summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)', load: save },
      tag: { summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', load: tag },
    },
  },
  network: {
    summary: 'Manage networks',
    category: 'management',
    sub: {
      connect: { summary: 'Connect a container to a network', load: () => import('./commands/networks.js').then((m) => m.networkConnectCommand) },
      create: { summary: 'Create a network', load: () => import('./commands/networks.js').then((m) => m.networkCreateCommand) },
      disconnect: { summary: 'Disconnect a container from a network', load: () => import('./commands/networks.js').then((m) => m.networkDisconnectCommand) },
      inspect: { summary: 'Display detailed information on one or more networks', load: () => import('./commands/inspect.js').then((m) => m.networkInspectCommand) },
      ls: { summary: 'List networks', load: () => import('./commands/networks.js').then((m) => m.networkListCommand) },
      list: { summary: 'List networks', load: () => import('./commands/networks.js').then((m) => m.networkListCommand), hidden: true },
      prune: { summary: 'Remove all unused networks', load: () => import('./commands/networks.js').then((m) => m.networkPruneCommand) },
      rm: { summary: 'Remove one or more networks', load: () => import('./commands/networks.js').then((m) => m.networkRemoveCommand) },
      remove: { summary: 'Remove one or more networks', load: () => import('./commands/networks.js').then((m) => m.networkRemoveCommand), hidden: true },
    },
  },
  volume: {
    summary: 'Manage volumes',
    category: 'management',
    sub: {
      create: { summary: 'Create a volume', load: () => import('./commands/volumes.js').then((m) => m.volumeCreateCommand) },
      inspect: { summary: 'Display detailed information on one or more volumes', load: () => import('./commands/inspect.js').then((m) => m.volumeInspectCommand) },
      ls: { summary: 'List volumes', load: () => import('./commands/volumes.js').then((m) => m.volumeListCommand) },
      list: { summary: 'List volumes', load: () => import('./commands/volumes.js').then((m) => m.volumeListCommand), hidden: true },
      prune: { summary: 'Remove unused local volumes', load: () => import('./commands/volumes.js').then((m) => m.volumePruneCommand) },
      rm: { summary: 'Remove one or more volumes', load: () => import('./commands/volumes.js').then((m) => m.volumeRemoveCommand) },
      remove: { summary: 'Remove one or more volumes', load: () => import('./commands/volumes.js').then((m) => m.volumeRemoveCommand), hidden: true },
    },
  },
  context: {
    summary: 'Manage contexts',
    category: 'management',
    sub: {
      create: { summary: 'Create a context', load: contextCommand('create') },
      inspect: { summary: 'Display detailed information on one or more contexts', load: contextCommand('inspect') },
      ls: { summary: 'List contexts', load: contextCommand('ls') },
      list: { summary: 'List contexts', load: contextCommand('ls'), hidden: true },
      rm: { summary: 'Remove one or more contexts', load: contextCommand('rm') },
      remove: { summary: 'Remove one or more contexts', load: contextCommand('rm'), hidden: true },
      show: { summary: 'Print the name of the current context', load: contextCommand('show') },
      update: { summary: 'Update a context', load: contextCommand('update') },
      use: { summary: 'Set the current docker context', load: contextCommand('use') },
    },
  },
  system: {
    summary: 'Manage Docker',
    category: 'management',
    sub: {
      events: { summary: 'Get real time events from the server', load: events },
      df: { summary: 'Show docker disk usage', load: () => import('./commands/disk-usage.js').then((m) => m.systemDfCommand) },
      info: { summary: 'Display system-wide information', load: info },
      prune: { summary: 'Remove unused data', load: () => import('./commands/prune.js').then((m) => m.systemPruneCommand) },
    },
  },
  attach: { summary: 'Attach local standard input, output, and error streams to a running container', category: 'other', load: attach },
  commit: { summary: "Create a new image from a container's changes", category: 'other', load: commit },
  cp: { summary: 'Copy files/folders between a container and the local filesystem', category: 'other', load: cp },
  create: { summary: 'Create a new container', category: 'other', load: create },
  diff: { summary: "Inspect changes to files or directories on a container's filesystem", category: 'other', load: diff },
  events: { summary: 'Get real time events from the server', category: 'other', load: events },
  export: { summary: "Export a container's filesystem as a tar archive", category: 'other', load: exportContainer },
  history: { summary: 'Show the history of an image', category: 'other', load: history },
  import: { summary: 'Import the contents from a tarball to create a filesystem image', category: 'other', load: importImage },
  inspect: { summary: 'Return low-level information on Docker objects', category: 'other', load: inspect },
  kill: { summary: 'Kill one or more running containers', category: 'other', load: kill },
  load: { summary: 'Load an image from a tar archive or STDIN', category: 'other', load },
  logs: { summary: 'Fetch the logs of a container', category: 'other', load: logs },
  pause: { summary: 'Pause all processes within one or more containers', category: 'other', load: pause },
  port: { summary: 'List port mappings or a specific mapping for the container', category: 'other', load: port },
  rename: { summary: 'Rename a container', category: 'other', load: rename },
  restart: { summary: 'Restart one or more containers', category: 'other', load: restart },
  rm: { summary: 'Remove one or more containers', category: 'other', load: rm },
  rmi: { summary: 'Remove one or more images', category: 'other', load: rmi },
  save: { summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)', category: 'other', load: save },
  start: { summary: 'Start one or more stopped containers', category: 'other', load: start },
  stats: { summary: 'Display a live stream of container(s) resource usage statistics', category: 'other', load: stats },
  stop: { summary: 'Stop one or more running containers', category: 'other', load: stop },
  tag: { summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', category: 'other', load: tag },
  top: { summary: 'Display the running processes of a container', category: 'other', load: topCommand },
  unpause: { summary: 'Unpause all processes within one or more containers', category: 'other', load: unpause },
  update: { summary: 'Update configuration of one or more containers', category: 'other', load: update },
  wait: { summary: 'Block until one or more containers stop, then print their exit codes', category: 'other', load: wait },
};

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'config', type: 'string', description: 'Location of client config files' },
  { name: 'context', short: 'c', type: 'string', description: 'Name of the context to use to connect to the daemon' },
  { name: 'debug', short: 'D', type: 'bool', description: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', description: 'Daemon socket to connect to' },
  { name: 'log-level', short: 'l', type: 'string', default: 'info', description: 'Set the logging level ("debug", "info", "warn", "error", "fatal")' },
  { name: 'tls', type: 'bool', description: 'Use TLS; implied by --tlsverify' },
  { name: 'tlscacert', type: 'string', description: 'Trust certs signed only by this CA' },
  { name: 'tlscert', type: 'string', description: 'Path to TLS certificate file' },
  { name: 'tlskey', type: 'string', description: 'Path to TLS key file' },
  { name: 'tlsverify', type: 'bool', description: 'Use TLS and verify the remote' },
  { name: 'version', short: 'v', type: 'bool', description: 'Print version information and quit' },
];

function commandList(entries: Array<[string, string]>): string {
  return entries.map(([name, summary]) => `  ${name.padEnd(11)} ${summary}`).join('\n');
}

function mainHelp(): string {
  const section = (category: TopCommand['category']): string =>
    commandList(Object.entries(COMMANDS).filter(([, c]) => c.category === category).map(([name, c]) => [name, c.summary]));
  const other = commandList(
    Object.entries(COMMANDS)
      .filter(([, c]) => c.category === 'other')
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, c]) => [name, c.summary]),
  );
  return (
    'Usage:  berth [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n' +
    `Common Commands:\n${section('common')}\n\nManagement Commands:\n${section('management')}\n\n` +
    `Commands:\n${other}\n\nGlobal Options:\n${formatFlagHelp(GLOBAL_FLAGS)}\n\n` +
    "Run 'berth COMMAND --help' for more information on a command.\n"
  );
}

function managementHelp(name: string, command: TopCommand): string {
  const entries = Object.entries(command.sub ?? {})
    .filter(([, s]) => !s.hidden)
    .map(([sub, s]): [string, string] => [sub, s.summary]);
  return (
    `Usage:  berth ${name} COMMAND\n\n${command.summary}\n\nCommands:\n${commandList(entries)}\n\n` +
    `Run 'berth ${name} COMMAND --help' for more information on a command.\n`
  );
}

class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

async function dispatch(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, GLOBAL_FLAGS, { interspersed: false });
  } catch (err) {
    if (err instanceof FlagError) {
      throw new ExitError(125, `${err.message}\n\nUsage:  berth [OPTIONS] COMMAND [ARG...]\n\nRun 'berth --help' for more information`);
    }
    throw err;
  }
  const { flags, positional } = parsed;
  if (flags.version === true) {
    process.stdout.write(`berth version ${BERTH_VERSION}, build ${BERTH_GIT_COMMIT}\n`);
    return 0;
  }
  const [name, ...rest] = positional;
  if (name === undefined || flags.help === true || name === 'help') {
    process.stdout.write(mainHelp());
    return 0;
  }
  const hosts = Array.isArray(flags.host) ? flags.host : [];
  if (hosts.length > 1) throw new ExitError(1, 'Specify only one -H');
  const debug = flags.debug === true;
  // Commands find the client config directory (credentials) through the environment, as docker's DOCKER_CONFIG.
  if (typeof flags.config === 'string' && flags.config !== '') process.env.BERTH_CONFIG = flags.config;
  let client: EngineClient | undefined;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const connectionOptions = {
    context: text(flags.context), hosts, tls: flags.tls === true,
    tlsVerify: parsed.changed.has('tlsverify') ? flags.tlsverify === true : undefined,
    tlsCaCert: text(flags.tlscacert), tlsCert: text(flags.tlscert), tlsKey: text(flags.tlskey),
  };
  // config.json's currentContext matters only when nothing else names the daemon; a broken
  // config.json is then reported by the commands that need it (login), not by every command.
  const currentContext = async () => (connectionOptions.context || hosts.length > 0 || process.env.BERTH_HOST || process.env.DOCKER_HOST
    ? undefined : ClientConfig.load().then((config) => config.currentContext, () => undefined));
  // `berth context` manages the store and must work when the chosen context is broken.
  const { host, tls, context: contextName } = name === 'context' ? { host: '', tls: undefined, context: '' }
    : await resolveConnection(connectionOptions, process.env, configDir(), await currentContext());
  const ctx: CliContext = {
    host,
    debug,
    connectionOptions,
    contextName,
    client: () => (client ??= new EngineClient({ host, tls })),
  };

  const top = COMMANDS[name];
  if (!top) throw new ExitError(1, `berth: unknown command: berth ${name}\n\nRun 'berth --help' for more information`);
  let spec: CommandSpec;
  let commandPath = `berth ${name}`;
  let args = rest;
  if (top.sub) {
    const [subName, ...subArgs] = rest;
    if (subName === undefined || subName === '--help' || subName === '-h') {
      process.stdout.write(managementHelp(name, top));
      return 0;
    }
    const sub = top.sub[subName];
    if (!sub) {
      throw new ExitError(1, `berth: unknown command: berth ${name} ${subName}\n\nUsage:  berth ${name}\n\nRun 'berth ${name} --help' for more information`);
    }
    spec = await loadModule(sub.load);
    commandPath = `berth ${name} ${subName}`;
    args = subArgs;
  } else {
    spec = await loadModule(top.load!);
  }
  return executeCommand(spec, ctx, args, commandPath);
}

/** The command's name for the trace: the first word that is neither a global flag nor its value. */
function commandName(argv: string[]): string {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (['-H', '--host', '-c', '--context', '--config', '-l', '--log-level', '--tlscacert', '--tlscert', '--tlskey'].includes(arg)) index++;
    else if (!arg.startsWith('-')) return arg;
  }
  return '';
}

/** With BERTH_TRACE=1: one trace line for the command (node's start, module loads, each API round trip). */
async function tracedDispatch(argv: string[]): Promise<number> {
  if (process.env.BERTH_TRACE !== '1') return dispatch(argv);
  // The global performance (no import: node:perf_hooks would cost every command's start).
  const { performance } = globalThis as unknown as { performance: import('node:perf_hooks').Performance };
  const mainLoaded = performance.now();
  const trace = await import('../util/trace.js');
  return trace.traceOperation(`cli ${commandName(argv)}`, async () => {
    // From the process's start (performance's time origin): node ready, then our bundle parsed and run.
    trace.traceRecord('node.bootstrap', performance.nodeTiming.bootstrapComplete);
    trace.traceRecord('cli.main.load', mainLoaded - performance.nodeTiming.bootstrapComplete);
    return dispatch(argv);
  }, true);
}

async function main(): Promise<void> {
  restoreExtraCaCerts();
  let code: number;
  try {
    code = await tracedDispatch(process.argv.slice(2));
  } catch (err) {
    const exitCode = typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : 1;
    const message = err instanceof Error ? err.message : String(err);
    if (message !== '') process.stderr.write(`${message}\n`);
    if (process.env.BERTH_DEBUG_STACK && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    code = exitCode === 0 ? 1 : exitCode;
  }
  // process.exit drops what a pipe has not taken yet (ps -a of 1,000 containers into `wc -l`
  // lost everything past 64 KiB; run -i's output likewise): let it go out first.
  // A reader that went away (| head) is no error of ours: the write's callback still comes.
  process.stdout.on('error', () => undefined);
  const { flushStdout } = await import('./output.js');
  await flushStdout();
  process.exit(code);
}

void main();
