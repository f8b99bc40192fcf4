// network create, ls, inspect, rm, prune, connect and disconnect, with the docker CLI's (28)
// flags, requests, tables and messages (cli/command/network).
import { isIP } from 'node:net';
import type { EndpointRequest, IpamConfig, NetworkResource } from '../../wire/network.js';
import { ClientError } from '../../client/engine-client.js';
import { boolFlag, listFlag, stringFlag, type CommandSpec } from '../command.js';
import { FlagError, keyValueMap } from '../flags.js';
import { chooseFormat, formatGoTime, renderFormatted, sortedJson, StatusError, truncateId } from '../output.js';
import { naturalLess } from './files.js';
import { confirm } from './images.js';
import { FORMAT_HELP, filtersQuery } from './ps.js';

const DEFAULT_NETWORK_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
export const NETWORK_HEADERS: Record<string, string> = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT',
};

/** The --filter values as the API's filters; a bad one is a flag error, as docker's FilterOpt reports it. */
function filterFlag(values: string[], flag: string): string | undefined {
  for (const value of values) {
    try {
      filtersQuery([value]);
    } catch (err) {
      throw new FlagError(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flag)} flag: ${(err as Error).message}`);
    }
  }
  return filtersQuery(values);
}

/** pflag's StringSlice: every value may hold several, comma-separated. */
function stringSlice(values: readonly string[]): string[] {
  return values.flatMap((value) => (value === '' ? [] : value.split(',')));
}

/** An IPv4 or IPv6 CIDR as [address bytes, prefix length], or undefined when it is none. */
function parseCidr(text: string): { bytes: number[]; prefix: number } | undefined {
  const slash = text.indexOf('/');
  if (slash === -1) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const bytes = addressBytes(address);
  if (!bytes || !/^\d+$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= bytes.length * 8 ? { bytes, prefix } : undefined;
}

function addressBytes(address: string): number[] | undefined {
  const version = isIP(address);
  if (version === 4) return address.split('.').map(Number);
  if (version !== 6) return undefined;
  let text = address;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tail = text.slice(lastColon + 1).split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups].map((group) => parseInt(group, 16));
  const bytes = groups.flatMap((group) => [group >> 8, group & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** subnetMatches of the docker CLI: does `subnet` contain the address (or the CIDR's address) `data`? */
function subnetMatches(subnet: string, data: string): boolean {
  const network = parseCidr(subnet);
  if (!network) throw new StatusError(1, `invalid subnet: invalid CIDR address: ${subnet}`);
  let bytes: number[] | undefined;
  if (data.includes('/')) {
    bytes = parseCidr(data)?.bytes;
    if (!bytes) throw new StatusError(1, `invalid CIDR address: ${data}`);
  } else {
    bytes = addressBytes(data);
  }
  if (!bytes || bytes.length !== network.bytes.length) return false;
  for (let bit = 0; bit < network.prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((bytes[bit >> 3]! & mask) !== (network.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

/** createIPAMConfig of the docker CLI: subnets, ranges, gateways and aux addresses grouped per subnet, with its errors. */
export function networkIpamConfig(options: { subnets: string[]; ipRanges: string[]; gateways: string[]; auxAddresses: Record<string, string> }): IpamConfig[] {
  const { subnets, ipRanges, gateways } = options;
  if (subnets.length < ipRanges.length || subnets.length < gateways.length) {
    throw new StatusError(1, 'every ip-range or gateway must have a corresponding subnet');
  }
  const configs = new Map<string, IpamConfig>();
  for (const subnet of subnets) {
    for (const existing of configs.keys()) {
      if (subnetMatches(subnet, existing) || subnetMatches(existing, subnet)) {
        throw new StatusError(1, 'multiple overlapping subnet configuration is not supported');
      }
    }
    configs.set(subnet, { Subnet: subnet });
  }
  for (const range of ipRanges) {
    if (!parseCidr(range)) throw new StatusError(1, `invalid CIDR address: ${range}`);
    const subnet = subnets.find((candidate) => subnetMatches(candidate, range));
    if (subnet === undefined) throw new StatusError(1, `no matching subnet for range ${range}`);
    const config = configs.get(subnet)!;
    if (config.IPRange) throw new StatusError(1, `cannot configure multiple ranges (${range}, ${config.IPRange}) on the same subnet (${subnet})`);
    config.IPRange = range;
  }
  for (const gateway of gateways) {
    const subnet = subnets.find((candidate) => subnetMatches(candidate, gateway));
    if (subnet === undefined) throw new StatusError(1, `no matching subnet for gateway ${gateway}`);
    const config = configs.get(subnet)!;
    if (config.Gateway) throw new StatusError(1, `cannot configure multiple gateways (${gateway}, ${config.Gateway}) for the same subnet (${subnet})`);
    config.Gateway = gateway;
  }
  for (const [key, address] of Object.entries(options.auxAddresses)) {
    const subnet = subnets.find((candidate) => subnetMatches(candidate, address));
    if (subnet === undefined) throw new StatusError(1, `no matching subnet for aux-address ${address}`);
    const config = configs.get(subnet)!;
    config.AuxiliaryAddresses = { ...(config.AuxiliaryAddresses ?? {}), [key]: address };
  }
  return [...configs.values()];
}

/** Go's time.Time.String() of an RFC 3339 timestamp with its fraction: "2024-01-01 10:00:00.123456789 +0000 UTC". */
export function goTimeString(rfc3339: string, offsetMinutes?: number): string {
  const seconds = Math.floor(Date.parse(rfc3339) / 1000);
  if (!Number.isFinite(seconds)) return rfc3339;
  const fraction = /\.(\d+)/.exec(rfc3339)?.[1]?.slice(0, 9).replace(/0+$/, '') ?? '';
  const text = formatGoTime(seconds, offsetMinutes);
  return fraction === '' ? text : text.replace(/^(\S+ \d\d:\d\d:\d\d)/, `$1.${fraction}`);
}

/** docker's network formatter rows (cli/command/network/formatter.go). */
export function networkRow(network: NetworkResource, trunc: boolean, offsetMinutes?: number): Record<string, unknown> {
  const labels = Object.entries(network.Labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => `${key}=${value}`).join(',');
  const enableIPv4 = (network as { EnableIPv4?: boolean }).EnableIPv4;
  return {
    ID: trunc ? truncateId(network.Id) : network.Id,
    Name: network.Name,
    Driver: network.Driver,
    Scope: network.Scope,
    // API 1.43 has no EnableIPv4: docker 28 shows Go's zero value, false, for a 1.43 daemon.
    IPv4: String(enableIPv4 ?? false),
    IPv6: String(network.EnableIPv6 ?? false),
    Internal: String(network.Internal ?? false),
    Labels: labels,
    Label: (name: string) => network.Labels?.[name] ?? '',
    CreatedAt: goTimeString(network.Created, offsetMinutes),
  };
}

/** The network ls output for these networks: sorted by name as docker sorts them (natural order). */
export function renderNetworkList(networks: NetworkResource[], options: { format: string; quiet: boolean; trunc: boolean; offsetMinutes?: number }): string {
  const sorted = [...networks].sort((a, b) => (naturalLess(a.Name, b.Name) ? -1 : naturalLess(b.Name, a.Name) ? 1 : 0));
  const format = chooseFormat({ format: options.format, defaultTable: DEFAULT_NETWORK_FORMAT, quiet: options.quiet, quietFormat: '{{.ID}}' });
  const rows = sorted.map((network) => networkRow(network, options.trunc, options.offsetMinutes));
  if (format === 'json') return rows.map((row) => `${sortedJson(row)}\n`).join('');
  return renderFormatted(format, rows, NETWORK_HEADERS);
}

/** An endpoint request with every field, as the docker CLI's EndpointSettings is marshalled. */
export function endpointRequest(fields: Partial<EndpointRequest>): EndpointRequest {
  return {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null,
    NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    ...fields,
  };
}

/** convertDriverOpt of docker network connect. */
function driverOpts(values: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf('=');
    const key = (equals === -1 ? value : value.slice(0, equals)).trim();
    if (equals === -1 || key === '') throw new StatusError(1, 'invalid key/value pair format in driver options');
    result[key] = value.slice(equals + 1).trim();
  }
  return result;
}

export const networkCreateCommand: CommandSpec = {
  name: 'create',
  usage: '[OPTIONS] NETWORK',
  description: 'Create a network',
  flags: [
    { name: 'attachable', type: 'bool', description: 'Enable manual container attachment' },
    { name: 'aux-address', type: 'list', valueName: 'map', description: 'Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])' },
    { name: 'driver', short: 'd', type: 'string', default: 'bridge', description: 'Driver to manage the Network' },
    { name: 'gateway', type: 'list', valueName: 'strings', description: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'internal', type: 'bool', description: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'list', valueName: 'strings', description: 'Allocate container ip from a sub-range' },
    { name: 'ipam-driver', type: 'string', default: 'default', description: 'IP Address Management Driver' },
    { name: 'ipam-opt', type: 'list', valueName: 'map', description: 'Set IPAM driver specific options (default map[])' },
    { name: 'ipv6', type: 'bool', description: 'Enable or disable IPv6 address assignment' },
    { name: 'label', type: 'list', description: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'list', valueName: 'map', description: 'Set driver specific options (default map[])' },
    { name: 'scope', type: 'string', description: "Control the network's scope" },
    { name: 'subnet', type: 'list', valueName: 'strings', description: 'Subnet in CIDR format that represents a network segment' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const { flags, args, changed } = invocation;
    const config = networkIpamConfig({
      subnets: stringSlice(listFlag(flags, 'subnet')),
      ipRanges: stringSlice(listFlag(flags, 'ip-range')),
      gateways: stringSlice(listFlag(flags, 'gateway')),
      auxAddresses: keyValueMap(listFlag(flags, 'aux-address')),
    });
    const response = await invocation.ctx.client().networkCreate({
      Driver: stringFlag(flags, 'driver') ?? 'bridge',
      Scope: stringFlag(flags, 'scope') ?? '',
      IPAM: { Driver: stringFlag(flags, 'ipam-driver') ?? 'default', Options: keyValueMap(listFlag(flags, 'ipam-opt')), Config: config },
      Internal: boolFlag(flags, 'internal'),
      Attachable: boolFlag(flags, 'attachable'),
      Ingress: false,
      ConfigOnly: false,
      ConfigFrom: null,
      ...(changed.has('ipv6') ? { EnableIPv6: boolFlag(flags, 'ipv6') } : {}),
      Options: keyValueMap(listFlag(flags, 'opt')),
      Labels: keyValueMap(listFlag(flags, 'label')),
      Name: args[0]!,
      CheckDuplicate: true,
    });
    process.stdout.write(`${response.Id}\n`);
    return 0;
  },
};

export const networkListCommand: CommandSpec = {
  name: 'ls',
  usage: '[OPTIONS]',
  description: 'List networks',
  aliases: ['network ls', 'network list'],
  flags: [
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "driver=bridge")' },
    { name: 'format', type: 'string', description: FORMAT_HELP },
    { name: 'no-trunc', type: 'bool', description: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display network IDs' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const { flags } = invocation;
    const networks = await invocation.ctx.client().networkList(filterFlag(listFlag(flags, 'filter'), '-f, --filter'));
    process.stdout.write(renderNetworkList(networks ?? [], {
      format: stringFlag(flags, 'format') ?? '', quiet: boolFlag(flags, 'quiet'), trunc: !boolFlag(flags, 'no-trunc'),
    }));
    return 0;
  },
};

export const networkRemoveCommand: CommandSpec = {
  name: 'rm',
  usage: 'NETWORK [NETWORK...]',
  description: 'Remove one or more networks',
  aliases: ['network rm', 'network remove'],
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Do not error if the network does not exist' }],
  args: { min: 1 },
  async run(invocation) {
    const client = invocation.ctx.client();
    const force = boolFlag(invocation.flags, 'force');
    let status = 0;
    // One at a time, each error on stderr as it comes, exit status 1 at the end (docker's runRemove).
    for (const name of invocation.args) {
      try {
        await client.networkRemove(name);
      } catch (err) {
        if (force && err instanceof ClientError && err.status === 404) continue;
        process.stderr.write(`${(err as Error).message}\n`);
        status = 1;
        continue;
      }
      process.stdout.write(`${name}\n`);
    }
    // docker's cli.StatusError prints its Status too.
    if (status !== 0) throw new StatusError(status, `exit status ${status}`);
    return 0;
  },
};

const PRUNE_WARNING = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';

export const networkPruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove all unused networks',
  flags: [
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const filters = filterFlag(listFlag(invocation.flags, 'filter'), '--filter');
    if (!boolFlag(invocation.flags, 'force') && !(await confirm(PRUNE_WARNING))) return 0;
    const report = await invocation.ctx.client().networkPrune(filters);
    process.stdout.write(prunedNetworks(report.NetworksDeleted));
    return 0;
  },
};

/** What network prune prints: "Deleted Networks:", a name a line, then the empty line of its Println; nothing when none went. */
export function prunedNetworks(names: readonly string[] | null | undefined): string {
  return names && names.length > 0 ? `Deleted Networks:\n${names.map((name) => `${name}\n`).join('')}\n` : '';
}

export const networkConnectCommand: CommandSpec = {
  name: 'connect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  flags: [
    { name: 'alias', type: 'list', valueName: 'strings', description: 'Add network-scoped alias for the container' },
    { name: 'driver-opt', type: 'list', valueName: 'strings', description: 'driver options for the network' },
    { name: 'ip', type: 'string', description: 'IPv4 address (e.g., "172.30.100.104")' },
    { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., "2001:db8::33")' },
    { name: 'link', type: 'list', description: 'Add link to another container' },
    { name: 'link-local-ip', type: 'list', valueName: 'strings', description: 'Add a link-local address for the container' },
  ],
  args: { min: 2, max: 2 },
  async run(invocation) {
    const { flags, args } = invocation;
    const links = listFlag(flags, 'link').map(validateLink);
    const ipam: EndpointRequest['IPAMConfig'] = {};
    const ip = stringFlag(flags, 'ip') ?? '';
    const ip6 = stringFlag(flags, 'ip6') ?? '';
    const linkLocal = stringSlice(listFlag(flags, 'link-local-ip'));
    if (ip) ipam.IPv4Address = ip;
    if (ip6) ipam.IPv6Address = ip6;
    if (linkLocal.length > 0) ipam.LinkLocalIPs = linkLocal;
    await invocation.ctx.client().networkConnect(args[0]!, {
      Container: args[1]!,
      EndpointConfig: endpointRequest({
        IPAMConfig: ipam,
        Links: links.length > 0 ? links : null,
        Aliases: stringSlice(listFlag(flags, 'alias')),
        DriverOpts: driverOpts(stringSlice(listFlag(flags, 'driver-opt'))),
      }),
    });
    return 0;
  },
};

export const networkDisconnectCommand: CommandSpec = {
  name: 'disconnect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Disconnect a container from a network',
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the container to disconnect from a network' }],
  args: { min: 2, max: 2 },
  async run(invocation) {
    const { flags, args } = invocation;
    await invocation.ctx.client().networkDisconnect(args[0]!, { Container: args[1]!, Force: boolFlag(flags, 'force') });
    return 0;
  },
};

/** opts.ValidateLink: "name[:alias]", the alias without a leading slash. */
export function validateLink(value: string): string {
  const parts = value.split(':');
  if (value === '') throw new FlagError(`invalid argument "${value}" for "--link" flag: empty string specified for links`);
  if (parts.length > 2) throw new FlagError(`invalid argument "${value}" for "--link" flag: bad format for links: ${value}`);
  return value;
}
