// The files every container gets bind-mounted over its own: /etc/hostname, /etc/hosts and
// /etc/resolv.conf. Pure text builders, plus the host-resolver reading they need.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `hostname`: the names of the container's own line ("host.domain host"); `entries`: whole lines (links). */
export function hostsFile(hostname: string, ip: string | undefined, extraHosts: string[] = [], entries: string[] = []): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const entry of extraHosts) {
    const separator = entry.indexOf(':');
    if (separator > 0) lines.push(`${entry.slice(separator + 1)}\t${entry.slice(0, separator)}`);
  }
  lines.push(...entries);
  if (ip) lines.push(`${ip}\t${hostname}`);
  return lines.join('\n') + '\n';
}

const DEFAULT_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/**
 * Docker's rule: the host's resolv.conf, minus loopback name servers (unreachable from a
 * container's own network namespace); when none is left, Google's public resolvers.
 * With --dns/--dns-search/--dns-option the given values replace the host's.
 */
export function resolvConf(hostResolvConf: string, options: { dns?: string[]; search?: string[]; dnsOptions?: string[]; hostNetwork: boolean }): string {
  const lines = hostResolvConf.split('\n');
  const hostServers = lines.map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1]).filter((s): s is string => !!s);
  const hostSearch = lines.map((line) => /^\s*(?:search|domain)\s+(.+)$/.exec(line)?.[1]).filter((s): s is string => !!s).flatMap((s) => s.trim().split(/\s+/));
  const hostOptions = lines.map((line) => /^\s*options\s+(.+)$/.exec(line)?.[1]).filter((s): s is string => !!s).flatMap((s) => s.trim().split(/\s+/));
  let servers = options.dns?.length ? options.dns : hostServers;
  if (!options.hostNetwork) servers = servers.filter((server) => !server.startsWith('127.') && server !== '::1');
  if (servers.length === 0) servers = DEFAULT_NAMESERVERS;
  const search = options.search?.length ? options.search : hostSearch;
  const opts = options.dnsOptions?.length ? options.dnsOptions : hostOptions;
  return [
    ...servers.map((server) => `nameserver ${server}`),
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    ...(opts.length ? [`options ${opts.join(' ')}`] : []),
  ].join('\n') + '\n';
}

export async function readHostResolvConf(): Promise<string> {
  try {
    return await readFile('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Where a container's /etc files live in its directory (inspect's HostnamePath, HostsPath, ResolvConfPath). */
export function etcFilePaths(directory: string): { hostname: string; hosts: string; resolvConf: string } {
  return { hostname: join(directory, 'hostname'), hosts: join(directory, 'hosts'), resolvConf: join(directory, 'resolv.conf') };
}
