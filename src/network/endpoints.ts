// A new endpoint of a container on a network: its address from the IPAM (pure over the network
// record), its MAC, the host-side veth's name, and on user networks its DNS names and upstreams.
import { randomBytes } from 'node:crypto';
import { forbidden } from '../errdefs/errors.js';
import { allocateAddress, formatIpv4, macFromIpv4, parseAddressSpace } from './ipam.js';
import type { EndpointConfig, NetworkContainer } from './service.js';
import { isDefaultBridge, type EndpointRecord, type NetworkRecord } from './store.js';

/** The endpoint `container` gets on `network` as its interface `ifname` (`first`: its first network, where --mac-address applies). */
export function newEndpoint(network: NetworkRecord, container: NetworkContainer, config: EndpointConfig, ifname: string, first: boolean): EndpointRecord {
  const ipamConfig = network.IPAM.Config[0]!;
  const space = parseAddressSpace(ipamConfig);
  // Auxiliary addresses are reserved for devices the network does not manage, as Docker reserves them.
  const used = new Set([...Object.values(network.endpoints).map((endpoint) => endpoint.ip), ...Object.values(ipamConfig.AuxiliaryAddresses ?? {})]);
  let ip: string;
  try {
    ip = allocateAddress(space, used, config.IPAMConfig?.IPv4Address || undefined);
  } catch (error) {
    if ((error as Error).message === 'Address already in use') throw forbidden(`Address already in use`);
    throw error;
  }
  const mac = config.MacAddress || (first ? container.macAddress : undefined) || macFromIpv4(ip);
  const userNetwork = !isDefaultBridge(network);
  const aliases = userNetwork ? [...(config.Aliases ?? [])] : [];
  const links = userNetwork ? [...(config.Links ?? [])] : [];
  return {
    EndpointID: randomBytes(32).toString('hex'), containerId: container.id, containerName: container.name, ip, prefixLength: space.subnet.prefix,
    gateway: formatIpv4(space.gateway), mac, ifname, hostVeth: `veth${randomBytes(4).toString('hex').slice(0, 7)}`, aliases, links,
    dnsNames: userNetwork ? endpointDnsNames(container.name, aliases, container.id) : [], ports: [], linkRules: [],
    // --dns on a user network: the embedded DNS server forwards this container's queries there (Docker does).
    ...(userNetwork && container.dns?.length ? { upstreams: [...container.dns] } : {}),
  };
}

/** What a container answers to on a user network: its name, its aliases, its short ID. */
export function endpointDnsNames(name: string, aliases: readonly string[], id: string): string[] {
  return [name, ...aliases, id.slice(0, 12)];
}

/** The endpoint after its container was renamed: the new name in the records and in DNS at once. */
export function renamedEndpoint(endpoint: EndpointRecord, name: string): EndpointRecord {
  return {
    ...endpoint, containerName: name,
    dnsNames: endpoint.dnsNames.length ? endpointDnsNames(name, endpoint.aliases, endpoint.containerId) : [],
  };
}
