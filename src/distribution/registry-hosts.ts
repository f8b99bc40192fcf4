// Which URLs berthd talks to for a registry, as Docker's registry service decides it:
// docker.io pulls go to the configured mirrors first (in order), then to registry-1.docker.io;
// pushes and logins never go to a mirror. A registry is secure (HTTPS, verified) unless it is
// listed in insecure-registries by host[:port] or falls in one of its CIDRs (127.0.0.0/8
// always does); an insecure registry is tried over HTTPS without verification, then over
// plain HTTP. The daemon keeps one RegistryHosts, built from daemon.json / flags at start.
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { RegistryServiceConfig } from '../wire/types.js';

export const INDEX_NAME = 'docker.io';
export const INDEX_HOSTNAME = 'index.docker.io';
export const DEFAULT_REGISTRY_HOST = 'registry-1.docker.io';
/** The key docker login and config.json use for Docker Hub. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

export interface RegistryEndpoint {
  /** scheme://host[:port]/ */
  url: URL;
  /** HTTPS without certificate verification (an insecure registry). */
  insecureTls: boolean;
  mirror: boolean;
  official: boolean;
}

export class RegistryConfigError extends Error {}

export interface RegistryHostsOptions {
  /** daemon.json registry-mirrors / --registry-mirror. */
  mirrors?: string[];
  /** daemon.json insecure-registries / --insecure-registry: CIDRs or host[:port]. */
  insecureRegistries?: string[];
  /** Resolves a host name for CIDR matching (dns.lookup by default, which reads /etc/hosts first). */
  lookup?: (hostname: string) => Promise<string[]>;
}

interface IndexInfo { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_PORT = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]+)?$`);

/** ValidateMirror: an http(s) URL without credentials, query or fragment; returned with a trailing "/". */
export function validateMirror(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(value)?.[1] ?? '';
    throw new RegistryConfigError(`invalid mirror: unsupported scheme "${scheme}" in "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RegistryConfigError(`invalid mirror: unsupported scheme "${url.protocol.slice(0, -1)}" in "${value}"`);
  }
  if (url.search !== '' || url.hash !== '') throw new RegistryConfigError(`invalid mirror: query or fragment at end of the URI "${value}"`);
  if (url.username !== '' || url.password !== '') {
    throw new RegistryConfigError(`invalid mirror: username/password not allowed in URI "${value.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:xxxxx@')}"`);
  }
  return value.replace(/\/+$/, '') + '/';
}

/** host[:port] or [v6]:port -> the host part, without brackets. */
export function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colons = host.split(':').length - 1;
  return colons === 1 ? host.slice(0, host.indexOf(':')) : host;
}

interface Cidr { text: string; address: string; prefix: number; family: 'ipv4' | 'ipv6' }

function parseCidr(value: string): Cidr | undefined {
  const slash = value.indexOf('/');
  if (slash === -1) return undefined;
  const address = value.slice(0, slash);
  const prefixText = value.slice(slash + 1);
  const version = isIP(address);
  if (version === 0 || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  if (version === 4) {
    // Go's IPNet.String() shows the network address: 10.1.2.3/8 -> 10.0.0.0/8.
    const bits = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const network = (bits & mask) >>> 0;
    const text = [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join('.');
    return { text: `${text}/${prefix}`, address: text, prefix, family: 'ipv4' };
  }
  return { text: `${address.toLowerCase()}/${prefix}`, address, prefix, family: 'ipv6' };
}

async function defaultLookup(hostname: string): Promise<string[]> {
  try {
    return (await dnsLookup(hostname, { all: true })).map((entry) => entry.address);
  } catch {
    return [];
  }
}

export class RegistryHosts {
  mirrors: string[];
  private cidrs: Cidr[] = [];
  private blockList = new BlockList();
  private indexConfigs = new Map<string, IndexInfo>();
  private readonly lookup: (hostname: string) => Promise<string[]>;

  constructor(options: RegistryHostsOptions = {}) {
    this.lookup = options.lookup ?? defaultLookup;
    for (const [key, list] of [['registry-mirrors', options.mirrors], ['insecure-registries', options.insecureRegistries]] as const) {
      if (list !== undefined && (!Array.isArray(list) || !list.every((item) => typeof item === 'string'))) {
        throw new RegistryConfigError(`${key} must be a list of strings`);
      }
    }
    this.mirrors = [...new Set((options.mirrors ?? []).map(validateMirror))];
    for (let entry of [...(options.insecureRegistries ?? []), '127.0.0.0/8']) {
      if (entry === INDEX_HOSTNAME) entry = INDEX_NAME;
      if (entry.startsWith('-') || entry.endsWith('-')) throw new RegistryConfigError(`invalid index name (${entry}). Cannot begin or end with a hyphen`);
      // Docker drops a scheme from an insecure registry (with a warning) rather than refusing it.
      entry = entry.replace(/^https?:\/\//i, '');
      if (entry.includes('://')) throw new RegistryConfigError(`insecure registry ${entry} should not contain '://'`);
      const cidr = parseCidr(entry);
      if (cidr) {
        if (this.cidrs.some((known) => known.text === cidr.text)) continue;
        this.cidrs.push(cidr);
        this.blockList.addSubnet(cidr.address, cidr.prefix, cidr.family);
        continue;
      }
      if (!HOST_PORT.test(entry)) throw new RegistryConfigError(`insecure registry ${entry} is not valid: invalid host "${hostnameOf(entry)}"`);
      const port = /:(\d+)$/.exec(entry)?.[1];
      if (port !== undefined && Number(port) > 65535) throw new RegistryConfigError(`insecure registry ${entry} is not valid: invalid port "${port}"`);
      this.indexConfigs.set(entry, { Name: entry, Mirrors: [], Secure: false, Official: false });
    }
    this.indexConfigs.set(INDEX_NAME, { Name: INDEX_NAME, Mirrors: this.mirrors, Secure: true, Official: true });
  }

  /** Takes the settings of `other` (a reload of registry-mirrors and insecure-registries); pulls under way keep their endpoints. */
  adopt(other: RegistryHosts): void {
    this.mirrors = other.mirrors;
    this.cidrs = other.cidrs;
    this.blockList = other.blockList;
    this.indexConfigs = other.indexConfigs;
  }

  /** isSecureIndex: listed by name, else not in an insecure CIDR (names are resolved to match). */
  async isSecure(host: string): Promise<boolean> {
    const name = host === INDEX_HOSTNAME ? INDEX_NAME : host;
    const listed = this.indexConfigs.get(name);
    if (listed) return listed.Secure;
    const hostname = hostnameOf(name);
    const addresses = isIP(hostname) ? [hostname] : await this.lookup(hostname);
    return !addresses.some((address) => this.blockList.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4'));
  }

  /**
   * The endpoints to try, grouped: a pull falls back from one group to the next on any error
   * (mirrors, then the origin); within a group, the client moves on only when an endpoint cannot
   * be reached (HTTPS, then plain HTTP for an insecure registry).
   */
  async endpointGroups(domain: string, purpose: 'pull' | 'push'): Promise<RegistryEndpoint[][]> {
    if (domain === INDEX_NAME || domain === INDEX_HOSTNAME) {
      const groups: RegistryEndpoint[][] = [];
      if (purpose === 'pull') {
        for (const mirror of this.mirrors) {
          const url = new URL(mirror);
          groups.push([{ url, insecureTls: url.protocol === 'https:' && !(await this.isSecure(url.host)), mirror: true, official: false }]);
        }
      }
      groups.push([{ url: new URL(`https://${DEFAULT_REGISTRY_HOST}/`), insecureTls: false, mirror: false, official: true }]);
      return groups;
    }
    const secure = await this.isSecure(domain);
    const group: RegistryEndpoint[] = [{ url: new URL(`https://${domain}/`), insecureTls: !secure, mirror: false, official: false }];
    if (!secure) group.push({ url: new URL(`http://${domain}/`), insecureTls: true, mirror: false, official: false });
    return [group];
  }

  /** /info's RegistryConfig. */
  serviceConfig(): RegistryServiceConfig {
    return {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: this.cidrs.map((cidr) => cidr.text),
      IndexConfigs: Object.fromEntries([...this.indexConfigs].map(([name, info]) => [name, { ...info, Mirrors: [...info.Mirrors] }])),
      Mirrors: [...this.mirrors],
    };
  }
}

/** The registry host[:port] a docker login server address names ("https://index.docker.io/v1/" -> index.docker.io). */
export function loginHost(serverAddress: string | undefined): string {
  if (!serverAddress) return INDEX_HOSTNAME;
  const withScheme = /^https?:\/\//.test(serverAddress) ? serverAddress : `https://${serverAddress}`;
  return new URL(withScheme).host;
}

/** splitReposSearchTerm: "127.0.0.1:5000/foo" -> [host, "foo"]; a term without a registry is Docker Hub's. */
export function splitSearchTerm(term: string): { index: string; remote: string } {
  const slash = term.indexOf('/');
  if (slash === -1) return { index: INDEX_NAME, remote: term };
  const first = term.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return { index: INDEX_NAME, remote: term };
  return { index: first === INDEX_HOSTNAME ? INDEX_NAME : first, remote: term.slice(slash + 1) };
}
