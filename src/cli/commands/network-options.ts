// The network flags of run and create (--network, --network-alias, --link, --ip, --ip6,
// --link-local-ip, --mac-address) as the docker CLI turns them into NetworkMode, HostConfig.Links
// and NetworkingConfig.EndpointsConfig (opts.go parseNetworkOpts, applyContainerOptions,
// opts.NetworkOpt). Pure, unit-tested in test/unit/cli-networks.test.ts.
import type { EndpointRequest } from '../../wire/network.js';
import { FlagError } from '../flags.js';
import { CreateOptionsError } from './create-errors.js';

function invalidFlagValue(name: string, value: string, reason: string): FlagError {
  return new FlagError(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(`--${name}`)} flag: ${reason}`);
}

/** The run/create flags this conversion reads. */
export interface NetworkFlags {
  /** --network and --net values, in order */
  networks: string[];
  /** --network-alias and --net-alias values */
  aliases: string[];
  links: string[];
  ipv4Address: string;
  ipv6Address: string;
  linkLocalIps: string[];
  macAddress: string;
}


/** One --network value: a name, or the long form "name=n,alias=a,ip=...". */
export interface NetworkAttachment {
  target: string;
  aliases: string[];
  links: string[];
  ipv4Address: string;
  ipv6Address: string;
  macAddress: string;
  linkLocalIps: string[];
  driverOpts: Record<string, string>;
}

function emptyAttachment(target: string): NetworkAttachment {
  return { target, aliases: [], links: [], ipv4Address: '', ipv6Address: '', macAddress: '', linkLocalIps: [], driverOpts: {} };
}

/** Splits a CSV record as Go's encoding/csv reads one line: fields may be "quoted", with "" for a quote. */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let atStart = true;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && atStart) {
      quoted = true;
      atStart = false;
    } else if (char === ',') {
      fields.push(field);
      field = '';
      atStart = true;
    } else {
      field += char;
      atStart = false;
    }
  }
  fields.push(field);
  return fields;
}

/** opts.NetworkOpt.Set: a network name, or its long syntax. */
export function parseNetworkFlag(value: string): NetworkAttachment {
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return emptyAttachment(value);
  const attachment = emptyAttachment('');
  for (const field of csvFields(value)) {
    const lower = field.toLowerCase();
    const equals = lower.indexOf('=');
    if (equals <= 0) throw invalidFlagValue('network', value, `invalid field ${field}`);
    const key = lower.slice(0, equals).trim();
    const fieldValue = lower.slice(equals + 1).trim();
    switch (key) {
      case 'name': attachment.target = fieldValue; break;
      case 'alias': attachment.aliases.push(fieldValue); break;
      case 'ip': attachment.ipv4Address = fieldValue; break;
      case 'ip6': attachment.ipv6Address = fieldValue; break;
      case 'mac-address': attachment.macAddress = fieldValue; break;
      case 'link-local-ip': attachment.linkLocalIps.push(fieldValue); break;
      case 'driver-opt': {
        const optEquals = fieldValue.indexOf('=');
        if (optEquals === -1) throw invalidFlagValue('network', value, 'invalid key value pair format in driver options');
        attachment.driverOpts[fieldValue.slice(0, optEquals).trim()] = fieldValue.slice(optEquals + 1).trim();
        break;
      }
      default: throw invalidFlagValue('network', value, `invalid field key ${key}`);
    }
  }
  if (attachment.target === '') throw invalidFlagValue('network', value, 'network name/id is not specified');
  return attachment;
}

/** container.NetworkMode.IsUserDefined */
export function isUserDefinedNetwork(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');
}

/** opts.ValidateMACAddress (net.ParseMAC): 6, 8 or 20 octets separated by ":" or "-", or dotted groups of four. */
export function isMacAddress(text: string): boolean {
  const groups = text.split(/[:-]/);
  const separators = new Set(text.replace(/[0-9a-f]/gi, ''));
  if (groups.length > 1 && separators.size === 1 && [6, 8, 20].includes(groups.length)) return groups.every((group) => /^[0-9a-f]{2}$/i.test(group));
  const dotted = text.split('.');
  return [3, 4, 10].includes(dotted.length) && dotted.every((group) => /^[0-9a-f]{4}$/i.test(group));
}

/** opts.ValidateLink */
function validateLinkFlag(value: string): string {
  if (value === '') throw invalidFlagValue('link', value, 'empty string specified for links');
  if (value.split(':').length > 2) throw invalidFlagValue('link', value, `bad format for links: ${value}`);
  return value;
}

function endpointOf(attachment: NetworkAttachment): EndpointRequest {
  if (attachment.target.trim() === '') throw new CreateOptionsError('no name set for network');
  if (!isUserDefinedNetwork(attachment.target)) {
    if (attachment.aliases.length > 0) throw new CreateOptionsError('network-scoped aliases are only supported for user-defined networks');
    if (attachment.links.length > 0) throw new CreateOptionsError('links are only supported for user-defined networks');
  }
  const ipam = attachment.ipv4Address || attachment.ipv6Address || attachment.linkLocalIps.length > 0
    ? {
      ...(attachment.ipv4Address ? { IPv4Address: attachment.ipv4Address } : {}),
      ...(attachment.ipv6Address ? { IPv6Address: attachment.ipv6Address } : {}),
      ...(attachment.linkLocalIps.length > 0 ? { LinkLocalIPs: attachment.linkLocalIps } : {}),
    }
    : null;
  if (attachment.macAddress && !isMacAddress(attachment.macAddress)) throw new CreateOptionsError(`${attachment.macAddress} is not a valid mac address`);
  return {
    IPAMConfig: ipam,
    Links: attachment.links.length > 0 ? attachment.links : null,
    Aliases: attachment.aliases.length > 0 ? attachment.aliases : null,
    MacAddress: attachment.macAddress,
    DriverOpts: Object.keys(attachment.driverOpts).length > 0 ? attachment.driverOpts : null,
    NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
  };
}

function isEmptyEndpoint(endpoint: EndpointRequest): boolean {
  return endpoint.IPAMConfig === null && endpoint.Links === null && endpoint.Aliases === null && endpoint.MacAddress === '' && endpoint.DriverOpts === null;
}

/**
 * --network (repeatable), --network-alias, --link, --ip, --ip6, --link-local-ip and --mac-address
 * as the docker CLI turns them into NetworkMode, HostConfig.Links and
 * NetworkingConfig.EndpointsConfig. The MAC address goes into Config.MacAddress, where API 1.43
 * takes it, and not into the endpoint (which needs 1.44).
 */
export function networkingConfig(flags: NetworkFlags): { networkMode: string; links: string[]; macAddress: string; endpoints: Record<string, EndpointRequest> } {
  const attachments = flags.networks.map(parseNetworkFlag);
  const { aliases, ipv4Address, ipv6Address, linkLocalIps, macAddress } = flags;
  const links = flags.links.map(validateLinkFlag);
  if (macAddress && !isMacAddress(macAddress)) throw new CreateOptionsError(`${macAddress} is not a valid mac address`);

  const applyContainerOptions = (attachment: NetworkAttachment): void => {
    if (attachment.aliases.length > 0 && aliases.length > 0) throw new CreateOptionsError('conflicting options: cannot specify both --network-alias and per-network alias');
    if (attachment.links.length > 0 && links.length > 0) throw new CreateOptionsError('conflicting options: cannot specify both --link and per-network links');
    if (attachment.ipv4Address && ipv4Address) throw new CreateOptionsError('conflicting options: cannot specify both --ip and per-network IPv4 address');
    if (attachment.ipv6Address && ipv6Address) throw new CreateOptionsError('conflicting options: cannot specify both --ip6 and per-network IPv6 address');
    if (attachment.macAddress && macAddress) throw new CreateOptionsError('conflicting options: cannot specify both --mac-address and per-network MAC address');
    if (attachment.linkLocalIps.length > 0 && linkLocalIps.length > 0) {
      throw new CreateOptionsError('conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses');
    }
    if (aliases.length > 0) attachment.aliases = [...aliases];
    // On a user-defined network --link is an endpoint option (an alias); on the default bridge a legacy link.
    if (isUserDefinedNetwork(attachment.target) && links.length > 0) attachment.links = [...links];
    if (ipv4Address) attachment.ipv4Address = ipv4Address;
    if (ipv6Address) attachment.ipv6Address = ipv6Address;
    if (macAddress) attachment.macAddress = macAddress;
    if (linkLocalIps.length > 0) attachment.linkLocalIps = [...linkLocalIps];
  };

  const endpoints: Record<string, EndpointRequest> = {};
  if (attachments.length === 0) {
    const attachment = emptyAttachment('default');
    applyContainerOptions(attachment);
    endpoints.default = endpointOf(attachment);
  }
  let userDefined = false;
  let otherModes = false;
  attachments.forEach((attachment, index) => {
    if (isUserDefinedNetwork(attachment.target)) userDefined = true;
    else otherModes = true;
    if (index === 0) applyContainerOptions(attachment);
    const endpoint = endpointOf(attachment);
    if (endpoints[attachment.target]) throw new CreateOptionsError(`network "${attachment.target}" is specified multiple times`);
    // One network without options: no endpoint configuration (the daemon makes it).
    if (index === 0 && attachments.length === 1 && isEmptyEndpoint(endpoint)) return;
    endpoints[attachment.target] = endpoint;
  });
  if (userDefined && otherModes) throw new CreateOptionsError('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  const networkMode = attachments[0]?.target ?? 'default';
  const mainEndpoint = endpoints[networkMode];
  const mainMac = mainEndpoint?.MacAddress ?? '';
  for (const endpoint of Object.values(endpoints)) endpoint.MacAddress = '';
  return { networkMode, links, macAddress: mainMac, endpoints };
}
