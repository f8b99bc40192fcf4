// The networks: records (predefined bridge, host and none, and user-defined bridges), the
// bridge driver's sandboxes and endpoints, published ports, links and the daemon's iptables
// rules. Containers reach it through the network lifecycle hook (containers/network-hook.ts):
// attach before a start, detach after the run. It never reads container records itself: the
// daemon gives it a ContainerDirectory.
//
// Order of work (docs/networking.md): a record first, then the thing. An endpoint's address is
// written to its network record before its veth exists and freed after the veth is gone; at
// start-up, endpoints of containers that are not running are dropped, and veths on our bridges,
// namespace files and rules that no record claims are removed.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { badParameter, conflict, forbidden, notFound, serverError } from '../errdefs/errors.js';
import type { Publish } from '../events/bus.js';
import { run } from '../util/exec.js';
import { allSettledOrThrow } from '../util/promises.js';
import { assertFilterKeys, createdBefore, matchLabelList, parseUntilFilter, type Filters } from '../util/filters.js';
import { addEndpoint, bridgePorts, createSandbox, deleteBridge, deleteLinks, ensureBridge, removeSandbox, setSysctl, userNamespacePath, type EndpointLink } from './bridge.js';
import type { IdMappings } from '../util/id-mappings.js';
import { holdHostPorts, holdMappings, type HeldPort } from './host-ports.js';
import {
  allocateAddress, DEFAULT_ADDRESS_POOLS, formatIpv4, formatSubnet, macFromIpv4, nextFreeSubnet, parseAddressSpace, parseCidrAddress,
  parseIpv4, parseSubnet, subnetContains, subnetsOverlap, type AddressPool, type Subnet,
} from './ipam.js';
import { linkEnvironment, linkHostsEntry, parseLink } from './links.js';
import { exposedPortKeys, parsePortKey, portRequests, type PortBindingMap } from './ports.js';
import { chainNames, missingJumps, restoreText, type ChainNames, type RuleLink } from './rules.js';
import { isDefaultBridge, NetworkRecordStore, type EndpointRecord, type IpamConfig, type NetworkRecord } from './store.js';
import { containerNetworkSettings, containerSummaryPorts, dnsLookup, ruleSetOf } from './views.js';
import { checkConnect, endpointsForCreate } from './endpoint-checks.js';
import { newEndpoint, renamedEndpoint } from './endpoints.js';
import { defaultBridgeRecord, hostRoutes, predefinedNetwork } from './default-bridge.js';

export type { EndpointRecord, NetworkRecord };
export type { DnsLookup } from './views.js';
import type { DnsLookup } from './views.js';

/** What a container asks of one network (NetworkingConfig.EndpointsConfig, network connect). */
export interface EndpointConfig {
  NetworkID?: string;
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  Links?: string[] | null;
  MacAddress?: string;
  /** kept and shown, as Docker keeps them (the bridge driver uses none) */
  DriverOpts?: Record<string, string> | null;
}

/** A container as the networks see it. */
export interface NetworkContainer {
  id: string;
  /** without the slash */
  name: string;
  running: boolean;
  hostname: string;
  domainname: string;
  env: string[];
  networkMode: string;
  /** the networks it is connected to, by name, in connection order */
  networks: Record<string, EndpointConfig>;
  links: string[];
  portBindings: PortBindingMap | null | undefined;
  publishAll: boolean;
  exposedPorts: Record<string, unknown> | null | undefined;
  /** --mac-address (Config.MacAddress) */
  macAddress?: string;
  /** --dns (HostConfig.Dns): on user networks, the embedded DNS server's upstreams for this container */
  dns?: string[];
  /** a --userns-remap container's mappings: its sandbox is made in a user namespace of its own */
  idMappings?: IdMappings;
}

export interface ContainerDirectory {
  find(reference: string): NetworkContainer | undefined;
  all(): NetworkContainer[];
}

/** What a container's start gets: the namespace to join and what the /etc files and the environment need. */
export interface Sandbox {
  path: string;
  /** the user namespace that owns the sandbox, for a container with idMappings: it joins this one */
  userNamespacePath?: string;
  /** the container's own address (first network), for its /etc/hosts */
  address?: string;
  /** extra /etc/hosts lines (links) */
  hostsEntries: string[];
  /** the embedded DNS server's address, on user networks */
  nameserver?: string;
  /** link environment variables */
  env: string[];
}

export interface NetworkOptions {
  dataRoot: string;
  execRoot: string;
  bridge: string;
  /** --bip: the default bridge's gateway address and prefix */
  bip?: string;
  fixedCidr?: string;
  mtu: number;
  ipForward: boolean;
  ipMasq: boolean;
  iptables: boolean;
  icc: boolean;
  defaultAddressPools: AddressPool[];
  publish: Publish;
  /** Starts an embedded DNS server for a user network at its gateway; returns its closer. */
  startDns?: (network: NetworkRecord, records: DnsLookup) => Promise<{ close(): Promise<void> }>;
}


const BUILT_IN = ['bridge', 'host', 'none'];
const LIST_FILTERS = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'];
const PRUNE_FILTERS = ['until', 'label', 'label!'];

export class NetworkService {
  private readonly store: NetworkRecordStore;
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly chains: ChainNames;
  private readonly held = new Map<string, HeldPort[]>();
  private readonly dns = new Map<string, { close(): Promise<void> }>();
  /** Sandboxes being removed after a run (detach), by container ID. */
  private readonly teardowns = new Map<string, Promise<void>>();
  private rulesTail: Promise<void> = Promise.resolve();
  /** Whether the jumps into our chains were found or added by a load since the daemon started. */
  private jumpsChecked = false;
  /** Serialises changes to the records (allocations), daemon-wide: they are quick. */
  private recordsTail: Promise<unknown> = Promise.resolve();
  containers: ContainerDirectory = { find: () => undefined, all: () => [] };

  constructor(readonly options: NetworkOptions) {
    this.store = new NetworkRecordStore(join(options.dataRoot, 'networks'));
    this.chains = chainNames(options.bridge);
  }

  private netnsPath(containerId: string): string {
    return join(this.options.execRoot, 'netns', containerId);
  }

  // ---- start-up -----------------------------------------------------------------------------

  /** Loads the records, makes the predefined networks, brings the bridges up. Before the containers' start-up. */
  async init(): Promise<void> {
    for (const record of await this.store.loadAll()) this.networks.set(record.Id, record);
    if (!this.findByName('none')) await this.saveNew(predefinedNetwork('none', 'null'));
    if (!this.findByName('host')) await this.saveNew(predefinedNetwork('host', 'host'));
    const bridge = this.findByName('bridge');
    const wanted = await defaultBridgeRecord(this.options, bridge, () => this.subnetsInUse());
    if (!bridge) await this.saveNew(wanted);
    else if (JSON.stringify(bridge.IPAM.Config) !== JSON.stringify(wanted.IPAM.Config) || bridge.bridge !== wanted.bridge) {
      // --bip, --fixed-cidr or --bridge changed: the default bridge follows the flags.
      if (bridge.bridge && bridge.bridge !== wanted.bridge) await deleteBridge(bridge.bridge);
      Object.assign(bridge, { IPAM: wanted.IPAM, bridge: wanted.bridge, Options: wanted.Options });
      await this.store.save(bridge);
    }
    if (this.options.ipForward) await setSysctl('/proc/sys/net/ipv4/ip_forward', '1');
    for (const network of this.bridgeNetworks()) await this.bringUp(network);
  }

  /** After the containers' start-up: drops what no running container claims, holds the ports of those that run, loads the rules. */
  async reconcile(): Promise<void> {
    const running = new Set(this.containers.all().filter((container) => container.running).map((container) => container.id));
    const claimedVeths = new Set<string>();
    for (const network of this.networks.values()) {
      let changed = false;
      for (const [id, endpoint] of Object.entries(network.endpoints)) {
        if (running.has(id)) {
          claimedVeths.add(endpoint.hostVeth);
          continue;
        }
        delete network.endpoints[id];
        changed = true;
      }
      if (changed) await this.store.save(network);
    }
    for (const network of this.bridgeNetworks()) {
      const strays = (await bridgePorts(network.bridge!)).filter((name) => !claimedVeths.has(name));
      await deleteLinks(strays);
    }
    const netnsDir = join(this.options.execRoot, 'netns');
    const userDir = join(this.options.execRoot, 'userns');
    const bound = new Set([...await readdir(netnsDir).catch(() => [] as string[]), ...await readdir(userDir).catch(() => [] as string[])]);
    for (const id of bound) {
      if (!running.has(id)) await removeSandbox(join(netnsDir, id));
    }
    for (const network of this.networks.values()) {
      for (const endpoint of Object.values(network.endpoints)) {
        if (endpoint.ports.length > 0 && !this.held.has(endpoint.containerId)) {
          this.held.set(endpoint.containerId, await holdMappings(endpoint.ports));
        }
      }
    }
    await this.applyRules();
  }

  private async bringUp(network: NetworkRecord): Promise<void> {
    const config = network.IPAM.Config[0]!;
    const space = parseAddressSpace(config);
    await ensureBridge(network.bridge!, `${formatIpv4(space.gateway)}/${space.subnet.prefix}`, this.mtuOf(network));
    // DNAT to a container of connections made to 127.0.0.1 (docs/networking.md).
    await setSysctl(`/proc/sys/net/ipv4/conf/${network.bridge}/route_localnet`, '1');
    if (!this.isDefaultBridge(network) && this.options.startDns && !this.dns.has(network.Id)) {
      try {
        this.dns.set(network.Id, await this.options.startDns(network, this.dnsLookup()));
      } catch (error) {
        process.stderr.write(`berthd: embedded DNS for network ${network.Name}: ${String(error)}\n`);
      }
    }
  }

  private mtuOf(network: NetworkRecord): number {
    return Number(network.Options['com.docker.network.driver.mtu']) || this.options.mtu;
  }

  private isDefaultBridge(network: NetworkRecord): boolean {
    return isDefaultBridge(network);
  }

  private bridgeNetworks(): NetworkRecord[] {
    return [...this.networks.values()].filter((network) => network.Driver === 'bridge' && network.bridge);
  }

  private subnetsInUse(): Subnet[] {
    return [...this.networks.values()].flatMap((network) => network.IPAM.Config.map((config) => parseSubnet(config.Subnet))).filter((s): s is Subnet => !!s);
  }

  private async saveNew(record: NetworkRecord): Promise<void> {
    await this.store.save(record);
    this.networks.set(record.Id, record);
  }

  private named(name: string): NetworkRecord[] {
    return [...this.networks.values()].filter((network) => network.Name === name);
  }

  private findByName(name: string): NetworkRecord | undefined {
    const matches = this.named(name);
    // Two networks share a name only when one was created with CheckDuplicate=false (API < 1.44).
    if (matches.length > 1) throw badParameter(`network ${name} is ambiguous (${matches.length} matches found on name)`);
    return matches[0];
  }

  // ---- lookup -------------------------------------------------------------------------------

  /** By full ID, name, or ID prefix, as Docker resolves a network. */
  find(reference: string): NetworkRecord | undefined {
    if (!reference) return undefined;
    const byId = this.networks.get(reference);
    if (byId) return byId;
    const byName = this.findByName(reference);
    if (byName) return byName;
    const matches = [...this.networks.values()].filter((network) => network.Id.startsWith(reference));
    if (matches.length > 1) throw badParameter(`network ${reference} is ambiguous (${matches.length} matches found based on ID prefix)`);
    return matches[0];
  }

  get(reference: string): NetworkRecord {
    const network = this.find(reference);
    if (!network) throw notFound(`network ${reference} not found`);
    return network;
  }

  /** The default bridge's gateway: what --add-host host-gateway resolves to. */
  hostGatewayAddress(): string | undefined {
    return this.findByName('bridge')?.IPAM.Config[0]?.Gateway;
  }

  // ---- the API's view -------------------------------------------------------------------------

  inspect(network: NetworkRecord): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    for (const endpoint of Object.values(network.endpoints)) {
      containers[endpoint.containerId] = {
        Name: endpoint.containerName, EndpointID: endpoint.EndpointID, MacAddress: endpoint.mac,
        IPv4Address: `${endpoint.ip}/${endpoint.prefixLength}`, IPv6Address: '',
      };
    }
    const { bridge: _bridge, endpoints: _endpoints, ...shown } = network;
    return { ...shown, Containers: containers };
  }

  list(filters: Filters): Array<Record<string, unknown>> {
    assertFilterKeys(filters, LIST_FILTERS, badParameter);
    for (const type of filters.get('type') ?? []) if (type !== 'custom' && type !== 'builtin') throw badParameter(`invalid filter: 'type'='${type}'`);
    const any = (key: string, predicate: (value: string) => boolean) => !filters.has(key) || filters.get(key)!.some(predicate);
    const used = this.networksInUse();
    return [...this.networks.values()]
      .filter((network) => any('driver', (value) => network.Driver === value)
        && any('id', (value) => network.Id.startsWith(value))
        && any('name', (value) => network.Name.includes(value))
        && any('scope', (value) => value === 'local')
        && any('type', (value) => (value === 'builtin') === this.isBuiltIn(network))
        && any('dangling', (value) => (['true', '1'].includes(value)) === (!this.isBuiltIn(network) && !used.has(network.Id)))
        && matchLabelList(filters.get('label') ?? [], network.Labels))
      .sort((a, b) => (a.Created < b.Created ? -1 : 1))
      .map((network) => this.inspect(network));
  }

  private isBuiltIn(network: NetworkRecord): boolean {
    return BUILT_IN.includes(network.Name) && (network.Driver !== 'bridge' || this.isDefaultBridge(network));
  }

  /** Networks some container (running or not) is connected to. */
  private networksInUse(): Set<string> {
    const used = new Set<string>();
    for (const container of this.containers.all()) {
      for (const [name, config] of Object.entries(container.networks)) {
        const network = this.find(config.NetworkID || name) ?? this.find(name);
        if (network) used.add(network.Id);
      }
    }
    return used;
  }

  // ---- create / remove / prune ----------------------------------------------------------------

  async create(request: {
    Name?: string; CheckDuplicate?: boolean; Driver?: string; Internal?: boolean; Attachable?: boolean; Ingress?: boolean; EnableIPv6?: boolean;
    IPAM?: { Driver?: string; Config?: IpamConfig[] | null; Options?: Record<string, string> | null } | null; Options?: Record<string, string> | null;
    Labels?: Record<string, string> | null; ConfigOnly?: boolean; ConfigFrom?: { Network?: string } | null; Scope?: string;
  }): Promise<{ Id: string; Warning: string }> {
    const name = request.Name ?? '';
    if (!name) throw badParameter('network name is required');
    if (BUILT_IN.includes(name)) throw forbidden(`${name} is a pre-defined network and cannot be created`);
    // API 1.43: a duplicate name is refused only when the client asks (the docker CLI and compose
    // do); otherwise it is created with a warning, as moby 24 does.
    const refuseDuplicate = request.CheckDuplicate === true;
    const driver = request.Driver || 'bridge';
    if (driver !== 'bridge') {
      if (driver === 'host' || driver === 'null') throw forbidden(`only one instance of "${driver}" network is allowed`);
      throw notFound(`plugin "${driver}" not found`);
    }
    if (request.Ingress) throw forbidden('ingress networks are not supported by berthd');
    if (request.EnableIPv6) throw badParameter('IPv6 networks are not supported by berthd yet');
    if (request.IPAM?.Driver && request.IPAM.Driver !== 'default') throw notFound(`plugin "${request.IPAM.Driver}" not found`);
    const options = { ...(request.Options ?? {}) };
    const configs = request.IPAM?.Config ?? [];
    if (configs.length > 1) throw badParameter('berthd supports one IPv4 subnet per network');
    return this.serialised(async () => {
      const [existing] = this.named(name);
      if (existing && refuseDuplicate) throw conflict(`network with name ${name} already exists`);
      const warning = existing ? `Network with name ${name} (id : ${existing.Id}) already exists` : '';
      const taken = this.subnetsInUse();
      let config: IpamConfig;
      if (configs[0]?.Subnet) {
        const subnet = parseSubnet(configs[0].Subnet);
        if (!subnet) throw badParameter(`invalid subnet ${configs[0].Subnet}: invalid CIDR address: ${configs[0].Subnet}`);
        if (taken.some((other) => subnetsOverlap(other, subnet))) throw forbidden('Pool overlaps with other one on this address space');
        if (configs[0].IPRange) {
          const range = parseSubnet(configs[0].IPRange);
          if (!range || !subnetContains(subnet, range.base) || range.prefix < subnet.prefix) throw badParameter(`invalid ip-range ${configs[0].IPRange}: it must be inside subnet ${configs[0].Subnet}`);
        }
        if (configs[0].Gateway) {
          const gateway = parseIpv4(configs[0].Gateway);
          if (gateway === undefined || !subnetContains(subnet, gateway)) throw badParameter(`invalid gateway ${configs[0].Gateway}: it must be inside subnet ${configs[0].Subnet}`);
        }
        config = {
          Subnet: formatSubnet(subnet), Gateway: configs[0].Gateway || formatIpv4(subnet.base + 1), ...(configs[0].IPRange ? { IPRange: configs[0].IPRange } : {}),
          ...(configs[0].AuxiliaryAddresses && Object.keys(configs[0].AuxiliaryAddresses).length ? { AuxiliaryAddresses: configs[0].AuxiliaryAddresses } : {}),
        };
      } else {
        if (configs[0]?.Gateway || configs[0]?.IPRange) throw badParameter('a gateway or an ip-range needs a subnet');
        const free = nextFreeSubnet(this.options.defaultAddressPools, [...taken, ...await hostRoutes()]);
        if (!free) throw forbidden('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
        config = { Subnet: formatSubnet(free), Gateway: formatIpv4(free.base + 1) };
      }
      const id = randomBytes(32).toString('hex');
      const bridge = options['com.docker.network.bridge.name'] || `br-${id.slice(0, 12)}`;
      if (bridge.length > 15) throw badParameter(`bridge name ${bridge} is longer than 15 characters`);
      if (this.bridgeNetworks().some((network) => network.bridge === bridge)) throw forbidden(`bridge name ${bridge} is already in use`);
      const record: NetworkRecord = {
        ...predefinedNetwork(name, 'bridge'), Id: id, Internal: !!request.Internal, Attachable: !!request.Attachable,
        IPAM: { Driver: 'default', Options: request.IPAM?.Options ?? null, Config: [config] }, Options: options, Labels: request.Labels ?? {}, bridge,
      };
      await this.saveNew(record);
      try {
        await this.bringUp(record);
        await this.applyRules();
      } catch (error) {
        await this.dropNetwork(record);
        throw serverError(`failed to create network ${name}: ${(error as Error).message}`);
      }
      this.options.publish('network', 'create', id, { name, type: 'bridge' });
      return { Id: id, Warning: warning };
    });
  }

  async remove(reference: string): Promise<void> {
    const network = this.get(reference);
    if (this.isBuiltIn(network)) throw forbidden(`${network.Name} is a pre-defined network and cannot be removed`);
    const users = this.containers.all().filter((container) => Object.entries(container.networks).some(([name, config]) => name === network.Name || config.NetworkID === network.Id));
    if (users.length > 0 || Object.keys(network.endpoints).length > 0) {
      throw forbidden(`error while removing network: network ${network.Name} id ${network.Id} has active endpoints`);
    }
    await this.serialised(() => this.dropNetwork(network));
    this.options.publish('network', 'destroy', network.Id, { name: network.Name, type: network.Driver });
  }

  private async dropNetwork(network: NetworkRecord): Promise<void> {
    await this.dns.get(network.Id)?.close().catch(() => undefined);
    this.dns.delete(network.Id);
    // The record goes last: a crash before leaves a record whose bridge start-up re-creates, never a bridge without one.
    this.networks.delete(network.Id);
    await this.applyRules().catch(() => undefined);
    if (network.bridge) await deleteBridge(network.bridge);
    await this.store.remove(network.Id);
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    assertFilterKeys(filters, PRUNE_FILTERS, badParameter);
    const until = parseUntilFilter(filters.get('until'), new Date(), badParameter);
    const used = this.networksInUse();
    const deleted: string[] = [];
    for (const network of [...this.networks.values()]) {
      if (this.isBuiltIn(network) || used.has(network.Id) || Object.keys(network.endpoints).length > 0) continue;
      if (!createdBefore(network.Created, until)) continue;
      if (!matchLabelList(filters.get('label') ?? [], network.Labels)) continue;
      if ((filters.get('label!') ?? []).length > 0 && (filters.get('label!') ?? []).some((label) => matchLabelList([label], network.Labels))) continue;
      await this.serialised(() => this.dropNetwork(network));
      this.options.publish('network', 'destroy', network.Id, { name: network.Name, type: network.Driver });
      deleted.push(network.Name);
    }
    return { NetworksDeleted: deleted.length > 0 ? deleted : null };
  }

  // ---- containers: create-time checks ---------------------------------------------------------

  /**
   * A create request's network mode and endpoint configs, checked as dockerd checks them
   * (nothing is created on error); returns the networks the container is connected to, by name.
   */
  endpointsForCreate(networkMode: string, endpointsConfig: Record<string, EndpointConfig> | undefined, macAddress: string | undefined): Record<string, EndpointConfig> {
    return endpointsForCreate((reference) => this.get(reference), networkMode, endpointsConfig, macAddress);
  }

  /** A connect's config checked before the container record changes. */
  checkConnect(network: NetworkRecord, container: NetworkContainer, config: EndpointConfig): void {
    checkConnect(network, container, config);
  }

  // ---- containers: start and exit -------------------------------------------------------------

  /** Before a start: the sandbox made, every endpoint attached, its ports published. Undone completely on failure. */
  attach(container: NetworkContainer): Promise<Sandbox> {
    return this.serialised(async () => {
      const path = this.netnsPath(container.id);
      const endpoints: Array<{ network: NetworkRecord; endpoint: EndpointRecord }> = [];
      let held: HeldPort[] = [];
      let rules = false;
      try {
        let index = 0;
        for (const [name, config] of Object.entries(container.networks)) {
          const network = this.find(config.NetworkID ?? '') ?? this.get(name);
          if (network.Driver !== 'bridge') continue;
          const endpoint = newEndpoint(network, container, config, `eth${index}`, index === 0);
          index++;
          network.endpoints[container.id] = endpoint;
          endpoints.push({ network, endpoint });
        }
        const first = endpoints[0];
        if (first) {
          const requests = portRequests(container.portBindings, container.publishAll, container.exposedPorts);
          const published = await holdHostPorts(requests, (proto, hostIp, port) => this.allocatedBy(proto, hostIp, port),
            (detail) => serverError(`driver failed programming external connectivity on endpoint ${container.name} (${first.endpoint.EndpointID}): ${detail(first.endpoint.ip)}`));
          held = published.held;
          first.endpoint.ports = published.mappings;
          if (this.isDefaultBridge(first.network)) first.endpoint.linkRules = this.linkRules(container, first.endpoint);
        }
        if (held.length > 0) this.held.set(container.id, held);
        // The records (the addresses taken), the sandbox and the rules at once; the start waits for
        // all. A crash before leaves a start the next daemon rolls back, and what no record claims.
        rules = endpoints.some(({ endpoint }) => endpoint.ports.length > 0 || endpoint.linkRules.length > 0);
        await allSettledOrThrow([
          ...endpoints.map(({ network }) => this.store.save(network)),
          createSandbox(path, endpoints.map(({ network, endpoint }) => this.endpointLink(network, endpoint, endpoint === first?.endpoint)), container.idMappings),
          ...(rules ? [this.applyRules()] : []),
        ]);
        for (const { network } of endpoints) this.publishEndpoint('connect', network, container.id);
      } catch (error) {
        await Promise.all(held.map((port) => port.close()));
        this.held.delete(container.id);
        await removeSandbox(path, endpoints.map(({ endpoint }) => endpoint.hostVeth));
        for (const { network } of endpoints) {
          delete network.endpoints[container.id];
          await this.store.save(network).catch(() => undefined);
        }
        if (rules) await this.applyRules().catch(() => undefined);
        throw error;
      }
      return this.sandboxOf(container, path, endpoints);
    });
  }

  private sandboxOf(container: NetworkContainer, path: string, endpoints: Array<{ network: NetworkRecord; endpoint: EndpointRecord }>): Sandbox {
    const first = endpoints[0];
    const sandbox: Sandbox = {
      path, address: first?.endpoint.ip, hostsEntries: [], env: [], userNamespacePath: container.idMappings ? userNamespacePath(path) : undefined,
    };
    if (first && this.isDefaultBridge(first.network)) {
      for (const link of container.links) {
        const { name, alias } = parseLink(link);
        const child = this.containers.find(name);
        const childEndpoint = child && first.network.endpoints[child.id];
        if (!child || !childEndpoint) continue;
        const linked = {
          alias, parentName: container.name, childName: child.name, childHostname: child.hostname, childIp: childEndpoint.ip,
          ports: exposedPortKeys(child.exposedPorts, child.portBindings), env: child.env,
        };
        sandbox.env.push(...linkEnvironment(linked));
        sandbox.hostsEntries.push(linkHostsEntry(linked));
      }
    } else if (first) {
      sandbox.nameserver = first.endpoint.gateway;
    }
    return sandbox;
  }

  private endpointLink(network: NetworkRecord, endpoint: EndpointRecord, defaultRoute: boolean): EndpointLink {
    return {
      ifname: endpoint.ifname, hostVeth: endpoint.hostVeth, bridge: network.bridge!, mac: endpoint.mac, address: endpoint.ip,
      prefixLength: endpoint.prefixLength, gateway: defaultRoute && !network.Internal ? endpoint.gateway : undefined, mtu: this.mtuOf(network),
    };
  }

  private allocatedBy(proto: string, hostIp: string, port: number): boolean {
    for (const network of this.networks.values()) {
      for (const endpoint of Object.values(network.endpoints)) {
        if (endpoint.ports.some((mapping) => mapping.proto === proto && mapping.hostPort === port && (!mapping.hostIp || !hostIp || mapping.hostIp === hostIp))) return true;
      }
    }
    return false;
  }

  /** --icc=false: the parent may reach each linked container's exposed ports (Docker's DOCKER chain ACCEPTs). */
  private linkRules(container: NetworkContainer, endpoint: EndpointRecord): RuleLink[] {
    if (this.options.icc) return [];
    const bridge = this.findByName('bridge')!;
    const rules: RuleLink[] = [];
    for (const link of container.links) {
      const child = this.containers.find(parseLink(link).name);
      const childEndpoint = child && bridge.endpoints[child.id];
      if (!child || !childEndpoint) continue;
      for (const key of exposedPortKeys(child.exposedPorts, child.portBindings)) {
        const { port, proto } = parsePortKey(key);
        rules.push({ bridge: bridge.bridge!, parentIp: endpoint.ip, childIp: childEndpoint.ip, proto, port });
      }
    }
    return rules;
  }

  /**
   * After the run: the host ports released and the endpoints gone from what inspect and DNS
   * show, at once; the namespace, its veths, the rules and the records follow, before any other
   * change of the networks (so no address or port is handed out again before its veth and rule
   * are gone); `tornDown` waits for them. A crash before they are done leaves endpoints of a
   * container not running, and what no record claims, which the next daemon removes.
   * Tolerates finding nothing.
   */
  detach(containerId: string): Promise<void> {
    let touched: NetworkRecord[] = [];
    let veths: string[] = [];
    let hadRules = false;
    const released = this.serialised(async () => {
      touched = [...this.networks.values()].filter((network) => network.endpoints[containerId]);
      veths = touched.map((network) => network.endpoints[containerId]!.hostVeth);
      hadRules = touched.some((network) => network.endpoints[containerId]!.ports.length > 0 || network.endpoints[containerId]!.linkRules.length > 0);
      const ports = this.held.get(containerId) ?? [];
      this.held.delete(containerId);
      for (const network of touched) delete network.endpoints[containerId];
      for (const network of touched) this.publishEndpoint('disconnect', network, containerId);
      await Promise.all(ports.map((port) => port.close()));
    });
    const teardown = this.serialised(() => allSettledOrThrow([
      removeSandbox(this.netnsPath(containerId), veths), ...touched.map((network) => this.store.save(network)), ...(hadRules ? [this.applyRules()] : []),
    ])).catch((error) => { process.stderr.write(`berthd: network teardown of ${containerId}: ${String(error)}\n`); })
      .finally(() => { if (this.teardowns.get(containerId) === teardown) this.teardowns.delete(containerId); });
    this.teardowns.set(containerId, teardown);
    return released;
  }

  /** Once the namespace and veths of the container's last run are gone (see detach). */
  async tornDown(containerId: string): Promise<void> {
    await this.teardowns.get(containerId);
  }

  /** A container renamed: its endpoints answer to the new name at once (DNS, inspect); the records follow. */
  renameContainer(containerId: string, name: string): Promise<void> {
    const touched = [...this.networks.values()].filter((network) => network.endpoints[containerId]);
    for (const network of touched) network.endpoints[containerId] = renamedEndpoint(network.endpoints[containerId]!, name);
    if (touched.length === 0) return Promise.resolve();
    return this.serialised(async () => { await Promise.all(touched.map((network) => this.store.save(network))); });
  }

  /** network connect on a running container: a new endpoint in its namespace. */
  connectRunning(container: NetworkContainer, networkName: string, config: EndpointConfig): Promise<void> {
    return this.serialised(async () => {
      const network = this.get(config.NetworkID || networkName);
      if (network.Driver !== 'bridge') return;
      const used = new Set([...this.networks.values()].filter((other) => other.endpoints[container.id]).map((other) => other.endpoints[container.id]!.ifname));
      let index = 0;
      while (used.has(`eth${index}`)) index++;
      const endpoint = newEndpoint(network, container, config, `eth${index}`, false);
      network.endpoints[container.id] = endpoint;
      await this.store.save(network);
      try {
        await addEndpoint(this.netnsPath(container.id), this.endpointLink(network, endpoint, false));
      } catch (error) {
        delete network.endpoints[container.id];
        await this.store.save(network);
        throw serverError(`failed to connect container to network ${network.Name}: ${(error as Error).message}`);
      }
      this.publishEndpoint('connect', network, container.id);
    });
  }

  disconnectRunning(containerId: string, networkId: string): Promise<void> {
    return this.serialised(async () => {
      const network = this.networks.get(networkId);
      const endpoint = network?.endpoints[containerId];
      if (!network || !endpoint) return;
      await deleteLinks([endpoint.hostVeth]);
      await Promise.all((endpoint.ports.length ? this.held.get(containerId) ?? [] : []).map((port) => port.close()));
      if (endpoint.ports.length) this.held.delete(containerId);
      delete network.endpoints[containerId];
      await this.store.save(network);
      this.publishEndpoint('disconnect', network, containerId);
      if (endpoint.ports.length || endpoint.linkRules.length) await this.applyRules();
    });
  }

  // ---- what inspect and ps show -------------------------------------------------------------------

  /** inspect's NetworkSettings. */
  /** Moves whenever a network record is saved or removed: inspect bodies built before are stale. */
  get generation(): number {
    return this.store.generation;
  }

  settings(container: NetworkContainer): Record<string, unknown> {
    return containerNetworkSettings(container, (reference) => this.find(reference), this.netnsPath(container.id));
  }

  /** GET /containers/json's Ports. */
  summaryPorts(container: NetworkContainer): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
    return containerSummaryPorts(container, [...this.networks.values()]);
  }

  private dnsLookup(): DnsLookup {
    return dnsLookup(() => [...this.networks.values()]);
  }

  // ---- rules ----------------------------------------------------------------------------------

  /**
   * The whole rule set loaded in one iptables-restore. The jumps from the built-in chains are
   * checked (iptables-save) at the daemon's start and after a failure only: a container start
   * with published ports then costs one process. Nothing with --iptables=false.
   */
  applyRules(): Promise<void> {
    const next = this.rulesTail.then(async () => {
      if (!this.options.iptables) return;
      const missing = this.jumpsChecked ? [] : missingJumps(await run('iptables-save', []), this.chains);
      try {
        await run('iptables-restore', ['-w', '--noflush'], { input: restoreText(this.chains, ruleSetOf(this.bridgeNetworks(), this.options.ipMasq), missing) });
        this.jumpsChecked = true;
      } catch (error) {
        this.jumpsChecked = false;
        throw error;
      }
    });
    this.rulesTail = next.catch(() => undefined);
    return next;
  }

  /** Docker's network events for an endpoint joining or leaving (container start and exit, live connect and disconnect). */
  private publishEndpoint(action: 'connect' | 'disconnect', network: NetworkRecord, containerId: string): void {
    this.options.publish('network', action, network.Id, { container: containerId, name: network.Name, type: network.Driver });
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.recordsTail.then(work, work);
    this.recordsTail = next.catch(() => undefined);
    return next;
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.teardowns.values());
    for (const server of this.dns.values()) await server.close().catch(() => undefined);
    this.dns.clear();
  }
}
