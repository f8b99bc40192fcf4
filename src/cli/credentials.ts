// The client's credentials, kept as the docker CLI keeps them: config.json in the config
// directory (--config, else $BERTH_CONFIG, else ~/.berth), same format as docker's
// (auths: {"<server>": {"auth": base64("user:password")}}, credsStore, credHelpers). With a
// credential helper configured (credHelpers for that server, else credsStore), secrets go to
// `docker-credential-<name>` through its get/store/erase protocol and only an empty entry
// stays in the file. Keys berth does not know are kept as they are.
import type * as ChildProcess from 'node:child_process';
import { readFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import type * as Os from 'node:os';
import { dirname, join } from 'node:path';
import { loadBuiltin } from '../util/builtins.js';
import type { AuthConfig } from '../wire/types.js';

/** Docker Hub's key in config.json. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';
const HELPER_PREFIX = 'docker-credential-';
const TOKEN_USERNAME = '<token>';
const NOT_FOUND = 'credentials not found in native keychain';

/** The client configuration directory: --config (passed in), else BERTH_CONFIG, else ~/.berth. */
export function configDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.BERTH_CONFIG || join(env.HOME || loadBuiltin<typeof Os>('node:os').homedir(), '.berth');
}

/** credentials.ConvertToHostname: "https://host:5000/v2/" -> "host:5000". */
export function convertToHostname(address: string): string {
  if (address.includes('://')) {
    try {
      const url = new URL(address);
      if (url.hostname !== '') return url.host;
    } catch {
      // Not a URL after all: cut at the first slash below.
    }
  }
  return address.split('/')[0]!;
}

/** The config.json key for a reference's registry domain (Docker Hub's is a URL). */
export function authConfigKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? INDEX_SERVER : domain;
}

/** The registry domain of an image reference ("me/app" -> docker.io, "127.0.0.1:5000/me/app" -> 127.0.0.1:5000). */
export function registryDomainOf(reference: string): string {
  const slash = reference.indexOf('/');
  if (slash === -1) return 'docker.io';
  const first = reference.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

export class CredentialHelperError extends Error {}

interface HelperCredentials { ServerURL?: string; Username?: string; Secret?: string }

/** Runs docker-credential-<helper> <action> with `input` on stdin; resolves with its stdout. */
function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  const program = HELPER_PREFIX + helper;
  // node:child_process and node:fs/promises load only when used: every command reads this file.
  const { spawn } = loadBuiltin<typeof ChildProcess>('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ENOENT' ? `exec: "${program}": executable file not found in $PATH` : error.message;
      reject(new CredentialHelperError(`error ${action === 'get' ? 'getting' : action === 'store' ? 'storing' : 'erasing'} credentials - err: ${reason}, out: \`\``));
    });
    child.on('close', (code) => {
      const out = stdout.trim();
      if (code === 0) resolve(out);
      else reject(new CredentialHelperError(out === NOT_FOUND ? NOT_FOUND
        : `error ${action === 'get' ? 'getting' : action === 'store' ? 'storing' : 'erasing'} credentials - err: exit status ${code}, out: \`${out || stderr.trim()}\``));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

type ConfigJson = Record<string, unknown> & {
  auths?: Record<string, Record<string, unknown>>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
};

export class ClientConfig {
  private constructor(readonly path: string, private readonly data: ConfigJson) {}

  static async load(dir: string = configDir()): Promise<ClientConfig> {
    const path = join(dir, 'config.json');
    let data: ConfigJson = {};
    try {
      const text = readFileSync(path, 'utf8');
      if (text.trim() !== '') data = JSON.parse(text) as ConfigJson;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`loading config file: ${path}: ${(error as Error).message}`);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) data = {};
    return new ClientConfig(path, data);
  }

  /** The context `berth context use` chose (config.json's currentContext, as docker's). */
  get currentContext(): string | undefined {
    return typeof this.data.currentContext === 'string' && this.data.currentContext !== '' ? this.data.currentContext : undefined;
  }

  /** Sets (or, with undefined or "default", clears) the current context. */
  async setCurrentContext(name: string | undefined): Promise<void> {
    if (name === undefined || name === 'default') delete this.data.currentContext;
    else this.data.currentContext = name;
    await this.save();
  }

  /** The helper for a server: credHelpers[server], else credsStore, else none (plain file). */
  helperFor(serverAddress: string): string | undefined {
    const specific = this.data.credHelpers?.[serverAddress];
    return specific || this.data.credsStore || undefined;
  }

  /** Stored credentials for a server ({} when none); the file store also matches legacy "https://host" keys. */
  async get(serverAddress: string): Promise<AuthConfig> {
    const helper = this.helperFor(serverAddress);
    const fromFile = this.fileEntry(serverAddress);
    if (!helper) return fromFile;
    let output: string;
    try {
      output = await runHelper(helper, 'get', serverAddress);
    } catch (error) {
      if (error instanceof CredentialHelperError && error.message === NOT_FOUND) return fromFile;
      throw error;
    }
    const found = JSON.parse(output) as HelperCredentials;
    const config: AuthConfig = { ...fromFile, serveraddress: serverAddress };
    if (found.Username === TOKEN_USERNAME) config.identitytoken = found.Secret ?? '';
    else {
      config.username = found.Username ?? '';
      config.password = found.Secret ?? '';
    }
    return config;
  }

  /**
   * Stores credentials under config.serveraddress. Resolves with the config file's path when
   * the password went into it in plain text (the docker CLI then warns).
   */
  async store(config: AuthConfig): Promise<string | undefined> {
    const server = config.serveraddress ?? '';
    const helper = this.helperFor(server);
    const auths = (this.data.auths ??= {});
    if (helper) {
      const secret: HelperCredentials = config.identitytoken
        ? { ServerURL: server, Username: TOKEN_USERNAME, Secret: config.identitytoken }
        : { ServerURL: server, Username: config.username ?? '', Secret: config.password ?? '' };
      await runHelper(helper, 'store', JSON.stringify(secret));
      const keep: Record<string, unknown> = {};
      if (config.email) keep.email = config.email;
      auths[server] = keep;
      await this.save();
      return undefined;
    }
    const entry: Record<string, unknown> = {};
    if (config.username || config.password) entry.auth = Buffer.from(`${config.username ?? ''}:${config.password ?? ''}`).toString('base64');
    if (config.email) entry.email = config.email;
    if (config.identitytoken) entry.identitytoken = config.identitytoken;
    if (config.registrytoken) entry.registrytoken = config.registrytoken;
    if (JSON.stringify(auths[server]) === JSON.stringify(entry)) return undefined;
    auths[server] = entry;
    await this.save();
    return config.password ? this.path : undefined;
  }

  /** Removes a server's credentials (helper and file); true when something was there to remove. */
  async erase(serverAddress: string): Promise<boolean> {
    const helper = this.helperFor(serverAddress);
    if (helper) await runHelper(helper, 'erase', serverAddress);
    const auths = this.data.auths;
    if (!auths || !(serverAddress in auths)) return !!helper;
    delete auths[serverAddress];
    await this.save();
    return true;
  }

  private fileEntry(serverAddress: string): AuthConfig {
    const auths = this.data.auths ?? {};
    let key: string | undefined = serverAddress in auths ? serverAddress : undefined;
    key ??= Object.keys(auths).find((candidate) => convertToHostname(candidate) === serverAddress);
    if (key === undefined) return {};
    const entry = auths[key] ?? {};
    const config: AuthConfig = { serveraddress: key };
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new Error('Invalid auth configuration file');
      config.username = decoded.slice(0, colon);
      config.password = decoded.slice(colon + 1).replace(/\0+$/, '');
    }
    for (const field of ['email', 'identitytoken', 'registrytoken'] as const) {
      if (typeof entry[field] === 'string' && entry[field] !== '') config[field] = entry[field] as string;
    }
    return config;
  }

  /** Atomic, 0600 in a 0700 directory, tab-indented like the docker CLI writes it. */
  private async save(): Promise<void> {
    const { mkdir, rename, stat, writeFile } = loadBuiltin<typeof FsPromises>('node:fs/promises');
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const mode = await stat(this.path).then((info) => info.mode & 0o777, () => 0o600);
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(this.data, null, '\t'), { mode });
    await rename(temp, this.path);
  }
}

/** X-Registry-Auth for an image's registry from the stored credentials, as docker pull/push send it. */
export async function registryAuthFor(config: ClientConfig, reference: string): Promise<AuthConfig> {
  const key = authConfigKey(registryDomainOf(reference));
  const found = await config.get(key);
  // The file store keeps the server address as its key; the docker CLI sends the key it asked for.
  return Object.keys(found).length === 0 ? {} : { ...found, serveraddress: found.serveraddress ?? key };
}

/** AuthConfig -> the X-Registry-Auth value: padded base64url JSON, as Go's base64.URLEncoding writes it. */
export function encodeAuthHeader(config: AuthConfig): string {
  const text = Buffer.from(JSON.stringify(config)).toString('base64url');
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}

/** The X-Registry-Auth header docker pull/push/search send for an image's (or a search term's) registry. */
export async function registryAuthHeader(reference: string): Promise<string> {
  let auth: AuthConfig = {};
  try {
    auth = await registryAuthFor(await ClientConfig.load(), reference);
  } catch {
    // Unreadable credentials: the request goes out anonymous, as the docker CLI's does.
  }
  return encodeAuthHeader(auth);
}
