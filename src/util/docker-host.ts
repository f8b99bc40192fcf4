// The -H / DOCKER_HOST grammar shared by berthd and the berth CLI, as Docker's opts.ParseHost:
// unix:///path, tcp://host:port (a bare host:port is tcp), fd:// or fd://N (socket activation).
// A tcp host without a port gets 2376 when TLS is on, 2375 when not; without a host, localhost.
import { isIP } from 'node:net';

export const DEFAULT_UNIX_SOCKET = '/run/berth/berth.sock';
export const DEFAULT_HTTP_PORT = 2375;
export const DEFAULT_TLS_HTTP_PORT = 2376;

export type DockerHost =
  | { proto: 'unix'; path: string }
  | { proto: 'tcp'; host: string; port: number }
  | { proto: 'fd'; fd: number | '*' };

export class HostFormatError extends Error {}

/** Parses one -H value; throws HostFormatError worded as Docker's. */
export function parseDockerHost(value: string, options: { tls?: boolean } = {}): DockerHost {
  const address = value.trim();
  const defaultPort = options.tls ? DEFAULT_TLS_HTTP_PORT : DEFAULT_HTTP_PORT;
  if (address === '') return { proto: 'unix', path: DEFAULT_UNIX_SOCKET };
  const cut = address.indexOf('://');
  const proto = cut === -1 ? 'tcp' : address.slice(0, cut);
  const rest = cut === -1 ? address : address.slice(cut + 3);
  switch (proto) {
    case 'unix':
      if (rest.includes('://')) throw new HostFormatError(`invalid bind address (${address}): invalid unix address: ${rest}`);
      return { proto: 'unix', path: rest || DEFAULT_UNIX_SOCKET };
    case 'fd': {
      if (rest === '' || rest === '*') return { proto: 'fd', fd: '*' };
      const fd = Number(rest);
      if (!Number.isInteger(fd) || fd < 3) throw new HostFormatError(`failed to parse systemd fd address: should be a number: ${rest}`);
      return { proto: 'fd', fd };
    }
    case 'tcp':
    case 'http':
    case 'https':
      return parseTcp(address, rest, defaultPort);
    default:
      throw new HostFormatError(`invalid bind address (${address}): unsupported proto '${proto}'`);
  }
}

function parseTcp(address: string, rest: string, defaultPort: number): DockerHost {
  const slash = rest.indexOf('/');
  if (slash !== -1 && rest.slice(slash) !== '/') throw new HostFormatError(`invalid bind address (${address}): should not contain a path element`);
  const hostPort = slash === -1 ? rest : rest.slice(0, slash);
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(hostPort);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon !== -1 && hostPort.indexOf(':') !== colon) {
      // An IPv6 literal without brackets has no port.
      host = hostPort;
    } else {
      host = colon === -1 ? hostPort : hostPort.slice(0, colon);
      port = colon === -1 ? undefined : hostPort.slice(colon + 1);
    }
  }
  let portNumber = defaultPort;
  if (port !== undefined && port !== '') {
    portNumber = Number(port);
    if (!/^\d+$/.test(port) || portNumber === 0 || portNumber > 65535) throw new HostFormatError(`invalid bind address (${address}): invalid port: ${port}`);
  }
  return { proto: 'tcp', host: host || 'localhost', port: portNumber };
}

/** The canonical text of a host, as Docker prints it (tcp://host:port, IPv6 in brackets). */
export function formatDockerHost(host: DockerHost): string {
  if (host.proto === 'unix') return `unix://${host.path}`;
  if (host.proto === 'fd') return host.fd === '*' ? 'fd://' : `fd://${host.fd}`;
  return `tcp://${isIP(host.host) === 6 ? `[${host.host}]` : host.host}:${host.port}`;
}

/** A loopback IP literal (127.0.0.0/8, ::1) or the name localhost. */
export function isLoopbackAddress(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./i.test(host);
  return false;
}
