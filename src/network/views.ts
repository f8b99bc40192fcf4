// What the networks show of a container (inspect's NetworkSettings, the Ports of a list) and
// what the embedded DNS servers answer, pure over the network records.
import { exposedPortKeys, inspectPorts, summaryPorts, type PortMapping } from './ports.js';
import { parseLink } from './links.js';
import type { NetworkContainer } from './service.js';
import type { RuleSet } from './rules.js';
import { isDefaultBridge, type NetworkRecord } from './store.js';

/** The embedded DNS server's view of the records (see network/dns). */
export interface DnsLookup {
  lookupA(clientAddress: string, name: string): string[] | undefined;
  lookupPtr(clientAddress: string, address: string): string | undefined;
  upstreamsFor(clientAddress: string): string[] | undefined;
}

/** inspect's NetworkSettings: what the container asked for, with its endpoints' addresses while it runs. */
export function containerNetworkSettings(container: NetworkContainer, find: (reference: string) => NetworkRecord | undefined, sandboxKey: string): Record<string, unknown> {
  const networks: Record<string, unknown> = {};
  let top = { Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' };
  let ports: PortMapping[] = [];
  for (const [name, config] of Object.entries(container.networks)) {
    const network = find(config.NetworkID ?? '') ?? find(name);
    const endpoint = network?.endpoints[container.id];
    if (endpoint && endpoint.ports.length) ports = endpoint.ports;
    networks[name] = {
      IPAMConfig: config.IPAMConfig ?? null, Links: config.Links?.length ? config.Links : null,
      Aliases: config.Aliases?.length ? config.Aliases : null, MacAddress: endpoint?.mac ?? config.MacAddress ?? '',
      NetworkID: network?.Id ?? '', EndpointID: endpoint?.EndpointID ?? '', Gateway: endpoint?.gateway ?? '', IPAddress: endpoint?.ip ?? '',
      IPPrefixLen: endpoint?.prefixLength ?? 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: config.DriverOpts ?? null,
      DNSNames: endpoint?.dnsNames.length ? endpoint.dnsNames : null,
    };
    if (endpoint && network && isDefaultBridge(network)) top = { Gateway: endpoint.gateway, IPAddress: endpoint.ip, IPPrefixLen: endpoint.prefixLength, MacAddress: endpoint.mac };
  }
  const exposed = exposedPortKeys(container.exposedPorts, container.portBindings);
  return {
    Bridge: '', SandboxID: container.running && Object.keys(networks).length ? container.id : '', HairpinMode: false,
    LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
    Ports: container.running ? inspectPorts(exposed, ports) : {},
    SandboxKey: container.running && !container.networkMode.startsWith('container:') && container.networkMode !== 'host' ? sandboxKey : '',
    SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPv6Gateway: '',
    ...top, Networks: networks,
  };
}

/** GET /containers/json's Ports. */
export function containerSummaryPorts(container: NetworkContainer, networks: readonly NetworkRecord[]): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const mappings = networks.flatMap((network) => network.endpoints[container.id]?.ports ?? []);
  return summaryPorts(exposedPortKeys(container.exposedPorts, container.portBindings), container.running ? mappings : []);
}

/** The embedded DNS servers' records: names on the user networks the asking container is on (by its address). */
export function dnsLookup(networks: () => NetworkRecord[]): DnsLookup {
  const clientNetworks = (client: string) => networks().filter((network) => !isDefaultBridge(network)
    && Object.values(network.endpoints).some((endpoint) => endpoint.ip === client));
  return {
    lookupA: (client, name) => {
      const found: string[] = [];
      for (const network of clientNetworks(client)) {
        const self = Object.values(network.endpoints).find((endpoint) => endpoint.ip === client)!;
        const linked = self.links.map(parseLink).find((link) => link.alias === name);
        const wanted = name.endsWith(`.${network.Name.toLowerCase()}`) ? name.slice(0, -network.Name.length - 1) : name;
        for (const endpoint of Object.values(network.endpoints)) {
          const names = endpoint.dnsNames.map((entry) => entry.toLowerCase());
          if (names.includes(wanted) || (linked && endpoint.containerName === linked.name)) found.push(endpoint.ip);
        }
      }
      return found.length > 0 ? [...new Set(found)] : undefined;
    },
    lookupPtr: (client, address) => {
      for (const network of clientNetworks(client)) {
        const endpoint = Object.values(network.endpoints).find((candidate) => candidate.ip === address);
        if (endpoint) return `${endpoint.containerName}.${network.Name}`;
      }
      return undefined;
    },
    upstreamsFor: (client) => {
      for (const network of clientNetworks(client)) {
        const self = Object.values(network.endpoints).find((endpoint) => endpoint.ip === client);
        if (self?.upstreams?.length) return self.upstreams;
      }
      return undefined;
    },
  };
}

/** The iptables rule set of the bridge networks: each network, its published ports, its links' accept rules. */
export function ruleSetOf(bridgeNetworks: readonly NetworkRecord[], ipMasq: boolean): RuleSet {
  const rules: RuleSet = { networks: [], ports: [], links: [] };
  for (const network of bridgeNetworks) {
    const masquerade = network.Options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false' && ipMasq;
    const icc = network.Options['com.docker.network.bridge.enable_icc'] !== 'false';
    rules.networks.push({ bridge: network.bridge!, subnet: network.IPAM.Config[0]!.Subnet, internal: network.Internal, masquerade, icc });
    for (const endpoint of Object.values(network.endpoints)) {
      for (const mapping of endpoint.ports) {
        rules.ports.push({ bridge: network.bridge!, proto: mapping.proto, hostIp: mapping.hostIp, hostPort: mapping.hostPort, containerIp: endpoint.ip, containerPort: mapping.containerPort });
      }
      rules.links.push(...endpoint.linkRules);
    }
  }
  return rules;
}
