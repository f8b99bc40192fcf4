// Integration-test harness: each test file starts its own berthd on a fresh data root, exec
// root, socket and cgroup parent, drives it with our CLI, the real docker CLI or raw HTTP,
// and removes everything it made when it ends, also after a failure: containers, conmon
// processes, runtime state, mounts, cgroups and directories.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { createHash } from 'node:crypto';
import { chainNames, removalText } from '../../src/network/rules.js';

/** The repository root, whether this runs from test/ (esbuild), dist/tsc/test/ (tsc) or a dev bundle run from the repository. */
export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url))) ?? findRepoRoot(process.cwd()) ?? (() => {
  throw new Error('repository root not found');
})();

/** dist/ and dist/tsc hold a package.json too (CommonJS bundles, ES module tests): the root is where tsconfig.json is. */
function findRepoRoot(start: string): string | undefined {
  let dir = start;
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json')))) {
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return dir;
}

/** BERTH_DIST points the tests at another build (scripts/dev-bundle.sh) than the repository's dist/. */
const DIST = process.env.BERTH_DIST ?? join(REPO_ROOT, 'dist');
export const BERTH = join(DIST, 'berth.js');
/** The berth CLI as a user runs it: the launcher dist/berth (native/cli-launcher.c), or node berth.js for a build without one (scripts/dev-bundle.sh). */
export const BERTH_ARGV: readonly string[] = existsSync(join(DIST, 'berth')) ? [join(DIST, 'berth')] : [process.execPath, BERTH];
export const BERTHD = join(DIST, 'berthd.js');

/** Makes a busybox root filesystem tarball from the host's busybox-static at `path`. */
export function makeBusyboxRootfs(path: string): string {
  if (!existsSync(path)) execFileSync('bash', [join(REPO_ROOT, 'scripts', 'make-busybox-rootfs.sh'), path], { stdio: 'ignore' });
  return path;
}

export interface CommandResult { code: number; stdout: string; stderr: string }

let daemonCounter = 0;

export interface LaunchOptions {
  /** A command that ends by exec'ing its arguments (node berthd.js ...), e.g. to set LISTEN_PID. */
  wrapper?: string[];
  /** File descriptors the daemon gets as 3, 4, ... (socket activation). */
  fds?: number[];
  env?: Record<string, string>;
}

export class TestDaemon {
  readonly root: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly socket: string;
  readonly host: string;
  readonly cgroupParent: string;
  readonly dockerConfig: string;
  /** This daemon's default bridge (and chain prefix), default-bridge subnet and user networks' pool: no two test daemons share them. */
  readonly bridge: string;
  readonly bridgeSubnet: string;
  readonly gateway: string;
  readonly addressPool: string;
  private process: ChildProcess | undefined;
  private output = '';

  /** How berthd is started: a wrapper command before `node berthd.js`, fds passed from 3 on, environment. */
  private readonly launch: LaunchOptions;

  /** `execRootName`: the exec root's directory name under the daemon's root ("exec"). */
  constructor(readonly extraArgs: string[] = [], options: { execRootName?: string; launch?: LaunchOptions } = {}) {
    this.launch = options.launch ?? {};
    this.root = mkdtempSync('/tmp/berth-test-');
    this.dataRoot = join(this.root, 'data');
    this.execRoot = join(this.root, options.execRootName ?? 'exec');
    this.socket = join(this.root, 'berth.sock');
    this.host = `unix://${this.socket}`;
    this.cgroupParent = `berthtest${process.pid}x${++daemonCounter}`;
    this.dockerConfig = join(this.root, 'docker-config');
    const network = testNetwork(this.root);
    this.bridge = network.bridge;
    this.bridgeSubnet = network.subnet;
    this.gateway = network.gateway;
    this.addressPool = network.pool;
  }

  /** The daemon's network flags, unless the test gives its own. */
  private networkArgs(): string[] {
    const given = (flag: string) => this.extraArgs.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
    return [
      ...(given('--bridge') ? [] : ['--bridge', this.bridge]),
      ...(given('--bip') ? [] : ['--bip', `${this.gateway}/24`]),
      ...(given('--default-address-pool') ? [] : ['--default-address-pool', `base=${this.addressPool},size=24`]),
    ];
  }

  /** The bridges this daemon's network records name (the default one and user networks'). */
  bridges(): string[] {
    const bridges = new Set([this.bridge]);
    const directory = join(this.dataRoot, 'networks');
    if (existsSync(directory)) {
      for (const file of readdirSync(directory)) {
        try {
          const bridge = (JSON.parse(readFileSync(join(directory, file), 'utf8')) as { bridge?: string }).bridge;
          if (bridge) bridges.add(bridge);
        } catch { /* not a record */ }
      }
    }
    return [...bridges];
  }

  /** Removes this daemon's bridges and iptables chains (after it stopped; also what a test checks is gone). */
  removeNetworking(): void {
    for (const bridge of this.bridges()) quiet(() => execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' }));
    quiet(() => {
      const saved = execFileSync('iptables-save', [], { encoding: 'utf8' });
      const text = removalText(saved, chainNames(this.bridge));
      if (text.trim()) execFileSync('iptables-restore', ['-w', '--noflush'], { input: text, stdio: ['pipe', 'ignore', 'ignore'] });
    });
  }

  get log(): string {
    return this.output;
  }

  /** berthd's pid while it runs. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  async start(): Promise<void> {
    this.output = '';
    const argv = [process.execPath, BERTHD, '--data-root', this.dataRoot, '--exec-root', this.execRoot,
      '-H', this.host, '--pidfile', join(this.root, 'berthd.pid'), '--cgroup-parent', this.cgroupParent, ...this.networkArgs(), ...this.extraArgs];
    const [file, ...args] = [...(this.launch.wrapper ?? []), ...argv];
    const child = spawn(file!, args,
      { stdio: ['ignore', 'pipe', 'pipe', ...(this.launch.fds ?? [])], env: childEnv(this.launch.env) });
    child.stdout?.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    child.stderr?.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.process = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`berthd exited with ${child.exitCode}:\n${this.output}`);
      try {
        const ping = await this.api('GET', '/_ping');
        if (ping.status === 200) return;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error(`berthd did not answer /_ping:\n${this.output}`);
  }

  /** Stops berthd the friendly way; containers keep running. */
  async stop(): Promise<void> {
    await this.signalAndWait('SIGTERM');
  }

  /** kill -9 berthd; containers keep running. */
  async kill9(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.process = undefined;
  }

  /** Raw HTTP against the daemon's socket. */
  api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: string; json: () => any; headers: Record<string, string | string[] | undefined> }> {
    return new Promise((resolvePromise, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const req = request({ socketPath: this.socket, method, path, headers: { ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text), headers: res.headers }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  berth(args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
    return runCommand(BERTH_ARGV[0]!, [...BERTH_ARGV.slice(1), '-H', this.host, ...args], options);
  }

  docker(args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
    return runCommand('docker', args, {
      ...options,
      env: { DOCKER_HOST: this.host, DOCKER_CONFIG: this.dockerConfig, DOCKER_CLI_HINTS: 'false', DOCKER_BUILDKIT: '0', ...(options.env ?? {}) },
    });
  }

  /** Our CLI, asserting success; returns its stdout. */
  async berthOk(args: string[]): Promise<string> {
    return succeeded(await this.berth(args), `berth ${args.join(' ')}`, this.log);
  }

  /** The docker CLI, asserting success; returns its stdout. */
  async dockerOk(args: string[]): Promise<string> {
    return succeeded(await this.docker(args), `docker ${args.join(' ')}`, this.log);
  }

  /** The busybox rootfs tarball, made once inside this daemon's root (so cleanup removes it). */
  busyboxRootfs(): string {
    return makeBusyboxRootfs(join(this.root, 'busybox.tar'));
  }

  /** Imports the busybox rootfs as busybox:latest with CMD ["sh"]. */
  async importBusybox(name = 'busybox:latest'): Promise<string> {
    const result = await this.berth(['import', '-c', 'CMD ["sh"]', this.busyboxRootfs(), name]);
    if (result.code !== 0) throw new Error(`import failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** Everything this daemon made, gone: call from `after`, it never throws. */
  async cleanup(): Promise<void> {
    try {
      if (this.process) {
        const list = await this.api('GET', '/containers/json?all=1').catch(() => undefined);
        if (list?.status === 200) {
          for (const container of list.json() as Array<{ Id: string }>) await this.api('DELETE', `/containers/${container.Id}?force=1`).catch(() => undefined);
        }
      }
    } catch { /* the daemon may be gone */ }
    await this.kill9().catch(() => undefined);
    quiet(() => execFileSync('pkill', ['-9', '-f', this.execRoot]));
    for (const runtime of ['runc', 'crun']) {
      const stateRoot = join(this.execRoot, 'runtime', runtime);
      if (!existsSync(stateRoot)) continue;
      for (const id of readdirSync(stateRoot)) {
        const binary = runtime === 'runc' ? '/usr/sbin/runc' : '/usr/bin/crun';
        quiet(() => execFileSync(binary, [`--root=${stateRoot}`, 'kill', id, 'KILL'], { stdio: 'ignore' }));
        quiet(() => execFileSync(binary, [`--root=${stateRoot}`, 'delete', '--force', id], { stdio: 'ignore' }));
      }
    }
    for (const mountPoint of mountsUnder(this.root)) quiet(() => execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }));
    this.removeNetworking();
    // A container killed a moment ago may still be leaving its cgroup: retry for a while.
    for (let attempt = 0; attempt < 20 && cgroupDirs(this.cgroupParent).length > 0; attempt++) {
      removeCgroups(this.cgroupParent);
      if (cgroupDirs(this.cgroupParent).length > 0) await sleep(100);
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * A bridge name, a /24 for the default bridge and a /20 pool for user networks, from a hash of
 * the daemon's root, moved on while the host routes overlap them (several test daemons run at once).
 */
function testNetwork(root: string): { bridge: string; subnet: string; gateway: string; pool: string } {
  const hash = createHash('sha256').update(root).digest();
  const routes = quietOutput(() => execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' })) ?? '';
  // Blocks of 4096 addresses in 10.128.0.0/9: the first /24 for the bridge, the rest for user networks.
  let block = hash.readUInt16BE(0) % 2048;
  for (let attempt = 0; attempt < 2048; attempt++, block = (block + 1) % 2048) {
    const second = 128 + Math.floor(block / 16);
    const third = (block % 16) * 16;
    const prefix = `10.${second}.`;
    const taken = routes.split('\n').some((line) => {
      const match = /^10\.(\d+)\.(\d+)\./.exec(line);
      return !!match && `10.${match[1]}.` === prefix && Number(match[2]) >= third && Number(match[2]) < third + 16;
    });
    if (taken) continue;
    return {
      bridge: `bt${hash.toString('hex').slice(0, 8)}`, subnet: `10.${second}.${third}.0/24`, gateway: `10.${second}.${third}.1`, pool: `10.${second}.${third}.0/20`,
    };
  }
  throw new Error('no free test subnet');
}

function quietOutput(action: () => string): string | undefined {
  try { return action(); } catch { return undefined; }
}

function succeeded(result: CommandResult, what: string, daemonLog: string): string {
  if (result.code !== 0) throw new Error(`${what} exited with ${result.code}: ${JSON.stringify(result)}\n${daemonLog}`);
  return result.stdout;
}

/** Whether a process with this pid exists (kill -0). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function mountsUnder(prefix: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  return lines.map((line) => line.split(' ')[4]).filter((point): point is string => !!point && point.startsWith(prefix + '/'))
    .sort((a, b) => b.length - a.length);
}

/** Cgroup directories named after the parent in every hierarchy (v1 controllers and v2). */
export function cgroupDirs(parent: string): string[] {
  const dirs: string[] = [];
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', controller, parent);
    if (existsSync(dir)) dirs.push(dir);
  }
  if (existsSync(join('/sys/fs/cgroup', parent))) dirs.push(join('/sys/fs/cgroup', parent));
  return dirs;
}

function removeCgroups(parent: string): void {
  for (const dir of cgroupDirs(parent)) {
    const walk = (path: string) => {
      for (const entry of readdirSync(path)) {
        const child = join(path, entry);
        try { if (statSync(child).isDirectory()) walk(child); } catch { /* gone */ }
      }
      quiet(() => rmdirSync(path));
    };
    quiet(() => walk(dir));
  }
}

function quiet(action: () => unknown): void {
  try { action(); } catch { /* best effort */ }
}

/** The environment for child processes, without the test runner's marker (a node child seeing it swallows its stdout). */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

export function runCommand(file: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, { env: childEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}

/** Polls until `check` returns a truthy value (or throws after the timeout). */
type Falsy = undefined | null | false | '' | 0;

export async function eventually<T>(check: () => Promise<T | Falsy> | T | Falsy, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * Call at the top level of a test file: a daemon started (with busybox imported) before the
 * file's tests and removed, with all it made, after them, also when they fail.
 */
export function useDaemon(options: { extraArgs?: string[]; busybox?: boolean; execRootName?: string } = {}): TestDaemon {
  const daemon = new TestDaemon(options.extraArgs, { execRootName: options.execRootName });
  before(async () => {
    await daemon.start();
    if (options.busybox !== false) await daemon.importBusybox();
  });
  after(() => daemon.cleanup());
  return daemon;
}

/** A TCP port on 127.0.0.1 that nothing listens on (for a registry or a daemon's -H tcp://). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
    probe.on('error', reject);
  });
}

/** Everything a stream sends until it ends. */
export function collectStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** What a data root's stores hold, folder by folder: a refused or failed import or load leaves all of it as it was. */
export function dataRootState(root: string): Record<string, string[]> {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
  return {
    layers: list(join(root, 'layers')),
    layerTemps: list(join(root, 'layers', 'tmp')),
    links: list(join(root, 'layers', 'l')),
    blobs: list(join(root, 'content', 'blobs', 'sha256')),
    ingests: list(join(root, 'content', 'ingest')),
    images: list(join(root, 'images')),
    temps: list(join(root, 'tmp')),
  };
}
