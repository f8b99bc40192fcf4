// The checks dockerd makes of what a container asks of its networks, at create and at
// network connect (pure over the network records): the network exists, --ip lies in its subnet
// and only on user networks, aliases only on user networks, MAC addresses well-formed.
import { badParameter, forbidden } from '../errdefs/errors.js';
import { isValidMac, parseAddressSpace, parseIpv4, subnetContains } from './ipam.js';
import type { EndpointConfig, NetworkContainer } from './service.js';
import { isDefaultBridge, type NetworkRecord } from './store.js';

/**
 * A create request's network mode and endpoint configs, checked as dockerd checks them
 * (nothing is created on error); returns the networks the container is connected to, by name.
 */
export function endpointsForCreate(get: (reference: string) => NetworkRecord, networkMode: string, endpointsConfig: Record<string, EndpointConfig> | undefined, macAddress: string | undefined): Record<string, EndpointConfig> {
  const mode = networkMode === 'default' || networkMode === '' ? 'bridge' : networkMode;
  if (mode.startsWith('container:')) return {};
  const network = get(mode);
  // The docker CLI names the default network "default".
  const configs = Object.fromEntries(Object.entries(endpointsConfig ?? {}).map(([name, config]) => [name === 'default' ? 'bridge' : name, config ?? {}]));
  const own = configs[mode] ?? configs[network.Name] ?? configs[network.Id] ?? {};
  if (macAddress && !isValidMac(macAddress)) throw badParameter(`invalid MAC address: ${macAddress}`);
  checkEndpointConfig(network, own);
  const result: Record<string, EndpointConfig> = { [network.Name]: { ...own, NetworkID: network.Id } };
  for (const [name, config] of Object.entries(configs)) {
    const other = get(name);
    if (other.Id === network.Id) continue;
    checkEndpointConfig(other, config);
    result[other.Name] = { ...config, NetworkID: other.Id };
  }
  return result;
}

export function checkEndpointConfig(network: NetworkRecord, config: EndpointConfig): void {
  const address = config.IPAMConfig?.IPv4Address;
  if (network.Driver !== 'bridge') {
    if (address || config.Aliases?.length || config.Links?.length) throw badParameter(`network-scoped aliases, links and addresses are only supported for user-defined networks`);
    return;
  }
  if (address) {
    if (isDefaultBridge(network)) throw badParameter('user specified IP address is supported on user defined networks only');
    if (parseIpv4(address) === undefined) throw badParameter(`invalid IPv4 address: ${address}`);
    const space = parseAddressSpace(network.IPAM.Config[0]!);
    if (!subnetContains(space.subnet, parseIpv4(address)!)) throw badParameter(`invalid endpoint settings:\nno configured subnet or ip-range contain the IP address ${address}`);
  }
  if (isDefaultBridge(network) && config.Aliases?.length) throw badParameter('network-scoped alias is supported only for containers in user defined networks');
  if (config.MacAddress && !isValidMac(config.MacAddress)) throw badParameter(`invalid MAC address: ${config.MacAddress}`);
}

/** A connect's config checked before the container record changes. */
export function checkConnect(network: NetworkRecord, container: NetworkContainer, config: EndpointConfig): void {
  if (network.Driver === 'host' || network.Driver === 'null' || container.networkMode === 'host' || container.networkMode === 'none' || container.networkMode.startsWith('container:')) {
    throw forbidden('container sharing network namespace with another container or host cannot be connected to any other network');
  }
  if (Object.entries(container.networks).some(([name, existing]) => name === network.Name || existing.NetworkID === network.Id)) {
    throw forbidden(`endpoint with name ${container.name} already exists in network ${network.Name}`);
  }
  checkEndpointConfig(network, config);
}
