// Published ports, pure: what a container asks for (PortBindings, -P over its exposed ports),
// checked with Docker's wording, and how the result is shown (inspect's NetworkSettings.Ports,
// the Ports of GET /containers/json).
import { badParameter } from '../errdefs/errors.js';
import { parseIpv4 } from './ipam.js';

export type PortProtocol = 'tcp' | 'udp' | 'sctp';

/** One host port (or range to pick from) asked for a container port. */
export interface PortRequest {
  proto: PortProtocol;
  containerPort: number;
  /** '' = every address (0.0.0.0) */
  hostIp: string;
  /** 0 = any free port of the ephemeral range */
  hostPort: number;
  /** the end of a host port range ("8000-8010": the first free one is taken) */
  hostPortEnd?: number;
}

/** A port as published: the host port is known. */
export interface PortMapping {
  proto: PortProtocol;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

export type PortBindingMap = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null | undefined>;

/** "80/tcp" → [80, 'tcp']; "80" is tcp. Throws Docker's "invalid port specification". */
export function parsePortKey(key: string): { port: number; proto: PortProtocol } {
  const [portText = '', protoText = 'tcp'] = key.split('/');
  const port = parsePortNumber(portText);
  const proto = protoText.toLowerCase();
  if (port === undefined || port === 0 || !['tcp', 'udp', 'sctp'].includes(proto)) throw badParameter(`invalid port specification: "${portText}"`);
  return { port, proto: proto as PortProtocol };
}

function parsePortNumber(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 65535 ? value : undefined;
}

/** "8080", "8000-8010" or "" (any). */
function parseHostPort(text: string): { start: number; end?: number } {
  if (text === '') return { start: 0 };
  const [startText = '', endText] = text.split('-');
  const start = parsePortNumber(startText);
  const end = endText === undefined ? undefined : parsePortNumber(endText);
  if (start === undefined || (endText !== undefined && (end === undefined || end < start))) throw badParameter(`invalid port specification: "${text}"`);
  return end === undefined || end === start ? { start } : { start, end };
}

/** Every host port to publish: the explicit bindings, plus (with -P) each exposed port not bound, on a free port. */
export function portRequests(bindings: PortBindingMap | null | undefined, publishAll: boolean, exposed: Record<string, unknown> | null | undefined): PortRequest[] {
  const requests: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    for (const binding of list ?? []) {
      const hostIp = binding.HostIp ?? '';
      if (hostIp !== '' && parseIpv4(hostIp) === undefined && hostIp !== '::') throw badParameter(`invalid host IP address: "${hostIp}"`);
      const hostPort = parseHostPort(binding.HostPort ?? '');
      bound.add(`${port}/${proto}`);
      if (hostIp === '::') continue; // IPv6 is not served: Docker skips it without IPv6 too
      requests.push({ proto, containerPort: port, hostIp: hostIp === '0.0.0.0' ? '' : hostIp, hostPort: hostPort.start, hostPortEnd: hostPort.end });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {}).sort()) {
      const { port, proto } = parsePortKey(key);
      if (!bound.has(`${port}/${proto}`)) requests.push({ proto, containerPort: port, hostIp: '', hostPort: 0 });
    }
  }
  return requests;
}

/** The ports a container exposes or binds, as "80/tcp" keys. */
export function exposedPortKeys(exposed: Record<string, unknown> | null | undefined, bindings: PortBindingMap | null | undefined): string[] {
  const keys = new Set<string>();
  for (const key of [...Object.keys(exposed ?? {}), ...Object.keys(bindings ?? {})]) {
    const { port, proto } = parsePortKey(key);
    keys.add(`${port}/${proto}`);
  }
  return [...keys];
}

/** inspect's NetworkSettings.Ports: every exposed port, with its host bindings or null. */
export function inspectPorts(exposedKeys: readonly string[], mappings: readonly PortMapping[]): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of exposedKeys) ports[key] = null;
  for (const mapping of mappings) {
    const key = `${mapping.containerPort}/${mapping.proto}`;
    (ports[key] ??= []).push({ HostIp: mapping.hostIp || '0.0.0.0', HostPort: String(mapping.hostPort) });
  }
  return ports;
}

/** GET /containers/json's Ports: published ones with their host side, exposed ones without. */
export function summaryPorts(exposedKeys: readonly string[], mappings: readonly PortMapping[]): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const published = new Set(mappings.map((mapping) => `${mapping.containerPort}/${mapping.proto}`));
  return [
    ...mappings.map((mapping) => ({ IP: mapping.hostIp || '0.0.0.0', PrivatePort: mapping.containerPort, PublicPort: mapping.hostPort, Type: mapping.proto })),
    ...exposedKeys.filter((key) => !published.has(key)).map((key) => {
      const { port, proto } = parsePortKey(key);
      return { PrivatePort: port, Type: proto };
    }),
  ];
}
