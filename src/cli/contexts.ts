// Contexts and the connection to the daemon, as the docker CLI keeps and chooses them.
//
// Store (docker's layout, so either CLI reads the other's): <config dir>/contexts/meta/
// <sha256(name)>/meta.json holds {"Name", "Metadata": {"Description"}, "Endpoints": {"docker":
// {"Host", "SkipTLSVerify"}}}; <config dir>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem
// its TLS material. "default" is not stored: it is -H/DOCKER_HOST with the --tls* flags.
//
// Which context: --context, else "default" when -H or DOCKER_HOST is given, else DOCKER_CONTEXT,
// else config.json's currentContext, else "default".
import type * as Crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientTls } from '../client/engine-client.js';
import { loadBuiltin } from '../util/builtins.js';
import { DEFAULT_UNIX_SOCKET, formatDockerHost, HostFormatError, parseDockerHost } from '../util/docker-host.js';
import { unreadExtraCaCertsFile, withExtraCaCerts } from './extra-ca-certs.js';
import { StatusError } from './status-error.js';

export const DEFAULT_CONTEXT = 'default';
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;
const TLS_FILES = ['ca.pem', 'cert.pem', 'key.pem'] as const;
type TlsFileName = (typeof TLS_FILES)[number];
/** Loaded when a stored context or TLS material is read: the default context over a unix socket needs neither. */
const fsPromises = async (): Promise<typeof FsPromises> => loadBuiltin<typeof FsPromises>('node:fs/promises');

export interface ContextMeta {
  Name: string;
  Metadata: { Description?: string };
  Endpoints: { docker?: { Host: string; SkipTLSVerify: boolean } };
}

export interface StoredContext {
  meta: ContextMeta;
  /** PEM files by name (ca.pem, cert.pem, key.pem) that the context holds. */
  tls: Partial<Record<TlsFileName, Buffer>>;
  metaPath: string;
  tlsPath: string;
}

/** The directory name of a context: sha256 of its name, in hex. */
export function contextDirName(name: string): string {
  return loadBuiltin<typeof Crypto>('node:crypto').createHash('sha256').update(name).digest('hex');
}

export function validateContextName(name: string): void {
  if (name === DEFAULT_CONTEXT) throw new StatusError(1, `"default" is a reserved context name`);
  if (!NAME_PATTERN.test(name)) throw new StatusError(1, `context name "${name}" is invalid, names are validated against regexp "${NAME_PATTERN.source}"`);
}

export class ContextStore {
  constructor(readonly configDir: string) {}

  private metaDir(name: string): string {
    return join(this.configDir, 'contexts', 'meta', contextDirName(name));
  }

  private tlsDir(name: string): string {
    return join(this.configDir, 'contexts', 'tls', contextDirName(name));
  }

  async get(name: string): Promise<StoredContext> {
    const metaPath = this.metaDir(name);
    let text: string;
    try {
      text = await (await fsPromises()).readFile(join(metaPath, 'meta.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new StatusError(1, `context "${name}": context not found: ${(error as Error).message}`);
      throw error;
    }
    const meta = JSON.parse(text) as ContextMeta;
    meta.Metadata ??= {};
    meta.Endpoints ??= {};
    const tlsPath = this.tlsDir(name);
    const tls: StoredContext['tls'] = {};
    for (const file of TLS_FILES) {
      const path = join(tlsPath, 'docker', file);
      if (existsSync(path)) tls[file] = await (await fsPromises()).readFile(path);
    }
    return { meta, tls, metaPath, tlsPath };
  }

  async exists(name: string): Promise<boolean> {
    return existsSync(join(this.metaDir(name), 'meta.json'));
  }

  async list(): Promise<StoredContext[]> {
    const root = join(this.configDir, 'contexts', 'meta');
    const { readdir, readFile } = await fsPromises();
    const entries = await readdir(root).catch(() => [] as string[]);
    const found: StoredContext[] = [];
    for (const entry of entries) {
      try {
        const meta = JSON.parse(await readFile(join(root, entry, 'meta.json'), 'utf8')) as ContextMeta;
        if (typeof meta.Name === 'string') found.push(await this.get(meta.Name));
      } catch {
        // Not a context (or half-written by another CLI): not listed, as docker skips it.
      }
    }
    return found.sort((a, b) => (a.meta.Name < b.meta.Name ? -1 : 1));
  }

  /** Writes a context's metadata and, when `tls` is given, replaces its TLS material. */
  async save(meta: ContextMeta, tls?: StoredContext['tls']): Promise<void> {
    const { mkdir, rename, rm, writeFile } = await fsPromises();
    const dir = this.metaDir(meta.Name);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const temp = join(dir, `.meta.json.${process.pid}.tmp`);
    await writeFile(temp, JSON.stringify(meta), { mode: 0o644 });
    await rename(temp, join(dir, 'meta.json'));
    if (tls === undefined) return;
    const tlsDir = this.tlsDir(meta.Name);
    await rm(tlsDir, { recursive: true, force: true });
    if (Object.keys(tls).length === 0) return;
    await mkdir(join(tlsDir, 'docker'), { recursive: true, mode: 0o700 });
    for (const [file, data] of Object.entries(tls)) await writeFile(join(tlsDir, 'docker', file), data, { mode: 0o600 });
  }

  async remove(name: string): Promise<void> {
    const { rm } = await fsPromises();
    await rm(this.metaDir(name), { recursive: true, force: true });
    await rm(this.tlsDir(name), { recursive: true, force: true });
  }
}

// ---- the connection ----------------------------------------------------------------------------

/** The global flags and environment that choose the daemon. */
export interface ConnectionOptions {
  context?: string;
  hosts: string[];
  tls: boolean;
  tlsVerify: boolean | undefined;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export interface Connection {
  context: string;
  host: string;
  tls: ClientTls | undefined;
}

/** Which context the flags, the environment and config.json's currentContext choose. */
export function chooseContext(options: Pick<ConnectionOptions, 'context' | 'hosts'>, env: NodeJS.ProcessEnv, current: string | undefined): string {
  if (options.context) {
    if (options.hosts.length > 0) throw new StatusError(1, 'conflicting options: either specify --host or --context, not both');
    return options.context;
  }
  if (options.hosts.length > 0 || env.BERTH_HOST || env.DOCKER_HOST) return DEFAULT_CONTEXT;
  return env.DOCKER_CONTEXT || current || DEFAULT_CONTEXT;
}

/** The default context's host: -H, else BERTH_HOST, else DOCKER_HOST, else the default socket (tcp://localhost:2376 with TLS). */
export function defaultHost(options: Pick<ConnectionOptions, 'hosts'>, env: NodeJS.ProcessEnv, tls: boolean): string {
  const given = options.hosts[0] || env.BERTH_HOST || env.DOCKER_HOST || '';
  // As docker's ParseHost: no host at all with TLS means tcp://localhost:2376.
  const fallback = tls ? 'tcp://localhost' : `unix://${DEFAULT_UNIX_SOCKET}`;
  try {
    return given.startsWith('/') ? `unix://${given}` : formatDockerHost(parseDockerHost(given || fallback, { tls }));
  } catch (error) {
    if (error instanceof HostFormatError) throw new StatusError(1, error.message);
    throw error;
  }
}

/**
 * TLS of the default context, as the docker CLI's flags: --tlsverify (given, or DOCKER_TLS_VERIFY
 * set) implies --tls; the CA is checked only with verification; cert.pem and key.pem are
 * sent when given or present in the certificate directory (DOCKER_CERT_PATH, else the config dir).
 */
export async function defaultTls(options: ConnectionOptions, env: NodeJS.ProcessEnv, configDir: string): Promise<ClientTls | undefined> {
  const verify = options.tlsVerify ?? ((env.DOCKER_TLS_VERIFY ?? '') !== '');
  const tls = options.tls || options.tlsVerify !== undefined || verify;
  if (!tls) return undefined;
  const certDir = env.DOCKER_CERT_PATH || configDir;
  const read = async (given: string | undefined, file: TlsFileName, required: boolean): Promise<Buffer | undefined> => {
    const path = given || join(certDir, file);
    if (!given && !required && !existsSync(path)) return undefined;
    try {
      return await (await fsPromises()).readFile(path);
    } catch (error) {
      throw new StatusError(1, `could not read ${file === 'ca.pem' ? 'CA certificate' : file === 'cert.pem' ? 'certificate' : 'key'} "${path}": ${(error as Error).message}`);
    }
  };
  return {
    verify,
    ca: verify ? await read(options.tlsCaCert, 'ca.pem', false) : undefined,
    cert: await read(options.tlsCert, 'cert.pem', false),
    key: await read(options.tlsKey, 'key.pem', false),
  };
}

/** A stored context's endpoint: TLS when it holds TLS material or skips verification. */
export function contextConnection(context: StoredContext): Connection {
  const endpoint = context.meta.Endpoints.docker;
  if (!endpoint) throw new StatusError(1, `context "${context.meta.Name}" has no docker endpoint`);
  const hasTls = Object.keys(context.tls).length > 0 || endpoint.SkipTLSVerify;
  return {
    context: context.meta.Name,
    host: endpoint.Host,
    tls: hasTls ? { verify: !endpoint.SkipTLSVerify, ca: context.tls['ca.pem'], cert: context.tls['cert.pem'], key: context.tls['key.pem'] } : undefined,
  };
}

/** The daemon to talk to, from the flags, the environment and the context store. */
export async function resolveConnection(options: ConnectionOptions, env: NodeJS.ProcessEnv, configDir: string, current: string | undefined): Promise<Connection> {
  const name = chooseContext(options, env, current);
  if (name === DEFAULT_CONTEXT) {
    const tls = await defaultTls(options, env, configDir);
    return { context: name, host: defaultHost(options, env, tls !== undefined), tls: withExtraCaCerts(tls, unreadExtraCaCertsFile()) };
  }
  const store = new ContextStore(configDir);
  if (!(await store.exists(name))) {
    throw new StatusError(1, `context "${name}": context not found: open ${join(configDir, 'contexts', 'meta', contextDirName(name), 'meta.json')}: no such file or directory`);
  }
  const connection = contextConnection(await store.get(name));
  return { ...connection, tls: withExtraCaCerts(connection.tls, unreadExtraCaCertsFile()) };
}
