// Where berthd listens and how it guards its TCP sockets, decided as dockerd decides it
// (daemon/command: setDefaultOptions, loadListeners; daemon/listeners): pure, so that the
// rules are tested without binding anything.
//
// - --tlsverify (given at all, or DOCKER_TLS_VERIFY set) turns TLS on; --tls turns verification
//   on unless --tlsverify=false says otherwise (dockerd since 2020): `--tls --tlsverify=false` is
//   server-only TLS, `--tlsverify` mutual TLS (clients need a certificate signed by the CA).
// - TCP without client verification is logged with Docker's warnings; on an address that is not
//   loopback it is refused unless --tls=false or --tlsverify=false shows it is meant (dockerd
//   slows its start by 15 s and says support will go; berth refuses outright).
// - fd:// takes the sockets systemd passed (LISTEN_PID, LISTEN_FDS; fds from 3).
import { join } from 'node:path';
import { formatDockerHost, HostFormatError, isLoopbackAddress, parseDockerHost, type DockerHost } from '../util/docker-host.js';
import { ConfigError, type DaemonConfig } from './config.js';

/** Where berthd looks for ca.pem, cert.pem and key.pem when no --tls* path is given. */
export const DEFAULT_CERT_DIR = '/etc/berth';
const LISTEN_FDS_START = 3;

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Mutual TLS: a client without a certificate signed by the CA fails the handshake. */
  verifyClients: boolean;
}

export interface ListenPlan {
  hosts: DockerHost[];
  tls: TlsFiles | undefined;
  /** Docker's warnings, one line each, to log at start. */
  warnings: string[];
}

/**
 * The listeners the configuration asks for. `isLoopback` answers for a TCP host name (the
 * caller resolves names; IP literals and "localhost" are answered here).
 */
export function planListeners(config: DaemonConfig, env: NodeJS.ProcessEnv, isLoopback: (host: string) => boolean = () => false): ListenPlan {
  const verifyFromEnv = (env.DOCKER_TLS_VERIFY ?? '') !== '';
  const tls = config.tls === true || config.tlsVerify !== undefined || verifyFromEnv;
  const verify = tls && (config.tlsVerify ?? true);
  const certDir = env.DOCKER_CERT_PATH || DEFAULT_CERT_DIR;
  const files: TlsFiles | undefined = tls ? {
    caFile: config.tlsCaCert || join(certDir, 'ca.pem'),
    certFile: config.tlsCert || join(certDir, 'cert.pem'),
    keyFile: config.tlsKey || join(certDir, 'key.pem'),
    verifyClients: verify,
  } : undefined;
  const hosts: DockerHost[] = [];
  const warnings: string[] = [];
  // Explicit intent to serve TCP without client certificates (dockerd's checkTLSAuthOK).
  const unauthenticatedMeant = config.tls === false || config.tlsVerify === false;
  if (config.hosts.length === 0) throw new ConfigError('no hosts configured');
  for (const text of config.hosts) {
    let host: DockerHost;
    try {
      host = parseDockerHost(text, { tls });
    } catch (error) {
      if (error instanceof HostFormatError) throw new ConfigError(error.message);
      throw error;
    }
    hosts.push(host);
    if (host.proto !== 'tcp' || verify) continue;
    const shown = formatDockerHost(host);
    warnings.push(
      `Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network. host="${shown}"`,
      `Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there! host="${shown}"`,
    );
    if (unauthenticatedMeant || isLoopbackAddress(host.host) || isLoopback(host.host)) continue;
    // The warnings lead the refusal: berthd stops before it would log them.
    throw new ConfigError(`${warnings.map((line) => `WARNING: ${line}\n`).join('')}refusing to listen on ${shown} without --tlsverify: that would give root access on this machine to everyone who can reach it. `
      + 'Please consider generating tls certificates with client validation to prevent exposing unauthenticated root access to your network. '
      + `You can override this by explicitly specifying '--tls=false' or '--tlsverify=false'`);
  }
  return { hosts, tls: files, warnings };
}

/**
 * The sockets systemd passed to this process (sd_listen_fds): none unless LISTEN_PID names it.
 * `wanted` is fd://'s address: '*' for all of them, else one fd number.
 */
export function activatedSockets(env: NodeJS.ProcessEnv, pid: number, wanted: number | '*'): number[] {
  const count = env.LISTEN_PID === String(pid) ? Number.parseInt(env.LISTEN_FDS ?? '', 10) : 0;
  const fds = Number.isInteger(count) && count > 0 ? Array.from({ length: count }, (_, index) => LISTEN_FDS_START + index) : [];
  if (fds.length === 0) throw new ConfigError('no sockets found via socket activation: make sure the service was started by systemd');
  if (wanted === '*') return fds;
  if (!fds.includes(wanted)) throw new ConfigError('too few socket activated files passed in by systemd');
  return [wanted];
}

/** The gid of a group in /etc/group's text, or of a numeric group; undefined when there is none. */
export function groupId(groupFile: string, name: string): number | undefined {
  for (const line of groupFile.split('\n')) {
    const [groupName, , gid] = line.split(':');
    if (groupName === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return /^\d+$/.test(name) ? Number(name) : undefined;
}
