// IPv4 address management, pure: parsing subnets, choosing a free subnet from the address
// pools, handing out addresses (lowest free first, as libnetwork's default IPAM) and the MAC
// Docker derives from an address. The allocations themselves are kept in the network records
// (store.ts); this module only computes.
import { badParameter, conflict } from '../errdefs/errors.js';

export interface Subnet {
  /** the network address, as a 32-bit unsigned number */
  base: number;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** "10.1.2.3/16" → the address and its prefix; undefined when not a CIDR. */
export function parseCidrAddress(text: string): { address: number; prefix: number } | undefined {
  const [ip, prefixText, extra] = text.split('/');
  if (extra !== undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText) || Number(prefixText) > 32) return undefined;
  const address = parseIpv4(ip!);
  return address === undefined ? undefined : { address, prefix: Number(prefixText) };
}

/** A subnet (the host bits cleared), or undefined when the text is not a CIDR. */
export function parseSubnet(text: string): Subnet | undefined {
  const parsed = parseCidrAddress(text);
  return parsed && { base: (parsed.address & maskOf(parsed.prefix)) >>> 0, prefix: parsed.prefix };
}

export const formatSubnet = (subnet: Subnet) => `${formatIpv4(subnet.base)}/${subnet.prefix}`;

export function subnetContains(subnet: Subnet, address: number): boolean {
  return ((address & maskOf(subnet.prefix)) >>> 0) === subnet.base;
}

export function subnetsOverlap(a: Subnet, b: Subnet): boolean {
  return subnetContains(a, b.base) || subnetContains(b, a.base);
}

const lastAddress = (subnet: Subnet) => (subnet.base + 2 ** (32 - subnet.prefix) - 1) >>> 0;

/** Docker's MAC for an address: 02:42 then the address's four bytes. */
export function macFromIpv4(address: string): string {
  const value = parseIpv4(address) ?? 0;
  return ['02', '42', ...[value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].map((byte) => byte.toString(16).padStart(2, '0'))].join(':');
}

export function isValidMac(text: string): boolean {
  return /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(text);
}

/** A pool of the --default-address-pool kind: subnets of `size` bits carved from `base`. */
export interface AddressPool {
  base: Subnet;
  size: number;
}

/** Docker's defaults (moby ipamutils): 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export const DEFAULT_ADDRESS_POOLS: AddressPool[] = [
  { base: { base: parseIpv4('172.17.0.0')!, prefix: 12 }, size: 16 },
  { base: { base: parseIpv4('192.168.0.0')!, prefix: 16 }, size: 20 },
];

/** "base=10.10.0.0/16,size=24" (the flag and daemon.json's object form). */
export function parseAddressPool(text: string | { base: string; size: number }): AddressPool {
  let baseText: string | undefined;
  let sizeText: string | undefined;
  if (typeof text === 'string') {
    for (const field of text.split(',')) {
      const [key, value] = field.split('=');
      if (key === 'base') baseText = value;
      else if (key === 'size') sizeText = value;
      else throw badParameter(`invalid default address pool: unknown field ${key}`);
    }
  } else {
    baseText = text.base;
    sizeText = String(text.size);
  }
  const base = baseText ? parseSubnet(baseText) : undefined;
  const size = Number(sizeText);
  if (!base || !Number.isInteger(size) || size < base.prefix || size > 30) throw badParameter(`invalid default address pool: ${typeof text === 'string' ? text : JSON.stringify(text)}`);
  return { base, size };
}

/** The first subnet of the pools that overlaps none of `taken` (networks, host routes). */
export function nextFreeSubnet(pools: readonly AddressPool[], taken: readonly Subnet[]): Subnet | undefined {
  for (const pool of pools) {
    const step = 2 ** (32 - pool.size);
    for (let base = pool.base.base; base <= lastAddress(pool.base); base += step) {
      const candidate = { base: base >>> 0, prefix: pool.size };
      if (!taken.some((other) => subnetsOverlap(other, candidate))) return candidate;
    }
  }
  return undefined;
}

/** One IPAM config of a network as the allocator sees it. */
export interface AddressSpace {
  subnet: Subnet;
  /** --ip-range / --fixed-cidr: where automatic addresses come from */
  range?: Subnet;
  gateway: number;
}

export function parseAddressSpace(config: { Subnet: string; Gateway?: string; IPRange?: string }): AddressSpace {
  const subnet = parseSubnet(config.Subnet);
  if (!subnet) throw badParameter(`invalid subnet ${config.Subnet}`);
  const range = config.IPRange ? parseSubnet(config.IPRange) : undefined;
  const gateway = config.Gateway ? parseIpv4(config.Gateway) : (subnet.base + 1) >>> 0;
  if (gateway === undefined) throw badParameter(`invalid gateway address ${config.Gateway}`);
  return { subnet, range, gateway };
}

/**
 * An address for an endpoint: the one asked for (it must lie in the subnet and be free), or the
 * lowest free one of the range (the subnet without --ip-range), skipping the network and
 * broadcast addresses and the gateway.
 */
export function allocateAddress(space: AddressSpace, used: ReadonlySet<string>, requested?: string): string {
  const { subnet } = space;
  const reserved = (value: number) => value === subnet.base || value === lastAddress(subnet) || value === space.gateway;
  if (requested) {
    const value = parseIpv4(requested);
    if (value === undefined || !subnetContains(subnet, value)) throw badParameter(`no configured subnet or ip-range contain the IP address ${requested}`);
    if (used.has(requested) || reserved(value)) throw conflict(`Address already in use`);
    return requested;
  }
  const range = space.range ?? subnet;
  for (let value = range.base; value <= lastAddress(range); value++) {
    if (!reserved(value) && subnetContains(subnet, value) && !used.has(formatIpv4(value))) return formatIpv4(value);
  }
  throw serverErrorNoAddresses(formatSubnet(subnet));
}

function serverErrorNoAddresses(subnet: string): Error {
  return conflict(`no available IPv4 addresses on this network's address pools: ${subnet}`);
}
