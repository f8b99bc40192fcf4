// The predefined networks' records and the default bridge's addresses: what berthd makes at start
// before any container asks, from its flags and what the host already routes.
import { randomBytes } from 'node:crypto';
import { badParameter, serverError } from '../errdefs/errors.js';
import { run } from '../util/exec.js';
import { DEFAULT_ADDRESS_POOLS, formatIpv4, formatSubnet, nextFreeSubnet, parseCidrAddress, parseSubnet, type Subnet } from './ipam.js';
import type { NetworkOptions } from './service.js';
import type { NetworkRecord } from './store.js';

/** A network record of Docker's shape with its defaults (bridge, host, none, and the base of user networks). */
export function predefinedNetwork(name: string, driver: string): NetworkRecord {
  return {
    Name: name, Id: randomBytes(32).toString('hex'), Created: new Date().toISOString(), Scope: 'local', Driver: driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Options: {}, Labels: {}, endpoints: {},
  };
}

/**
 * The default bridge as the daemon's flags describe it: --bip, else the subnet it had, else the
 * first default pool free of the host's routes and the other networks.
 */
export async function defaultBridgeRecord(options: NetworkOptions, existing: NetworkRecord | undefined, subnetsInUse: () => Subnet[]): Promise<NetworkRecord> {
  let subnet: string;
  let gateway: string;
  if (options.bip) {
    const parsed = parseCidrAddress(options.bip);
    if (!parsed) throw badParameter(`invalid --bip ${options.bip}`);
    subnet = formatSubnet(parseSubnet(options.bip)!);
    gateway = formatIpv4(parsed.address);
  } else if (existing?.IPAM.Config[0] && existing.bridge === options.bridge) {
    ({ Subnet: subnet, Gateway: gateway = '' } = existing.IPAM.Config[0]);
  } else {
    const taken = [...await hostRoutes(), ...subnetsInUse()];
    const free = nextFreeSubnet(DEFAULT_ADDRESS_POOLS, taken);
    if (!free) throw serverError('could not find an available, non-overlapping IPv4 address pool for the default bridge');
    subnet = formatSubnet(free);
    gateway = formatIpv4(free.base + 1);
  }
  const record = existing ? { ...existing } : predefinedNetwork('bridge', 'bridge');
  record.IPAM = { Driver: 'default', Options: null, Config: [{ Subnet: subnet, Gateway: gateway, ...(options.fixedCidr ? { IPRange: options.fixedCidr } : {}) }] };
  record.bridge = options.bridge;
  record.Options = {
    'com.docker.network.bridge.default_bridge': 'true',
    'com.docker.network.bridge.enable_icc': String(options.icc),
    'com.docker.network.bridge.enable_ip_masquerade': String(options.ipMasq),
    'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
    'com.docker.network.bridge.name': options.bridge,
    'com.docker.network.driver.mtu': String(options.mtu),
  };
  return record;
}

/** The host's IPv4 routes (their destinations), so that a new network avoids them. */
export async function hostRoutes(): Promise<Subnet[]> {
  const text = await run('ip', ['-4', 'route', 'show']).catch(() => '');
  return text.split('\n').map((line) => line.split(' ')[0] ?? '').filter((destination) => destination && destination !== 'default')
    .map((destination) => parseSubnet(destination.includes('/') ? destination : `${destination}/32`)).filter((subnet): subnet is Subnet => !!subnet);
}
