// -p/--publish as the docker CLI reads it: go-connections' port-spec grammar (containerPort,
// hostPort:containerPort, ip::containerPort, ip:hostPort:containerPort, ranges, /udp) and the
// long form (target=80,published=8080,protocol=udp), turned into ExposedPorts and PortBindings.
import { isIP } from 'node:net';
import { CreateOptionsError } from './create-errors.js';

export type PortBindingMap = Record<string, Array<{ HostIp: string; HostPort: string }>>;

export interface PortMapping {
  /** "80/tcp" */
  port: string;
  hostIp: string;
  hostPort: string;
}

function parsePortRange(text: string): [number, number] {
  if (text === '') throw new Error('empty string specified for ports');
  const dash = text.indexOf('-');
  const parse = (part: string): number => {
    if (!/^\d+$/.test(part)) throw new Error(`invalid port: ${part}`);
    const value = Number(part);
    if (value > 65535) throw new Error(`invalid port: ${part}`);
    return value;
  };
  if (dash === -1) {
    const value = parse(text);
    return [value, value];
  }
  const start = parse(text.slice(0, dash));
  const end = parse(text.slice(dash + 1));
  if (end < start) throw new Error(`invalid range specified for port: ${text}`);
  return [start, end];
}

function splitProtoPort(raw: string): [proto: string, port: string] {
  const parts = raw.split('/');
  if (raw === '' || parts[0] === '') return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** Docker's long publish syntax ("target=80,published=8080,protocol=udp") as the short one. */
function toStandardNotation(spec: string): string {
  if (!spec.includes('=')) return spec;
  let target = '';
  let published = '';
  let protocol = 'tcp';
  let hostIp = '';
  for (const param of spec.split(',')) {
    const eq = param.indexOf('=');
    if (eq === -1) throw new CreateOptionsError(`invalid publish opts format (should be name=value but got '${param}')`);
    const key = param.slice(0, eq);
    const value = param.slice(eq + 1);
    if (key === 'target') target = value;
    else if (key === 'published') published = value;
    else if (key === 'protocol') protocol = value;
    else if (key === 'host_ip' || key === 'host-ip') hostIp = value;
  }
  const host = hostIp ? `${hostIp}:${published}` : published;
  return `${host ? `${host}:` : ''}${target}/${protocol}`;
}

/**
 * One -p value ("80", "8080:80", "127.0.0.1:8080:80/udp", "[::1]:80:80", "8000-8001:80-81")
 * as port mappings, with go-connections' nat.ParsePortSpec errors.
 */
export function parsePortSpec(raw: string): PortMapping[] {
  const spec = toStandardNotation(raw);
  const parts = spec.split(':');
  const n = parts.length;
  let ip = '';
  let hostPort = '';
  let containerPort = parts[n - 1]!;
  if (n === 2) hostPort = parts[0]!;
  else if (n === 3) {
    ip = parts[0]!;
    hostPort = parts[1]!;
  } else if (n > 3) {
    ip = parts.slice(0, n - 2).join(':');
    hostPort = parts[n - 2]!;
  }
  let proto: string;
  [proto, containerPort] = splitProtoPort(containerPort);
  if (ip.startsWith('[')) {
    if (!ip.endsWith(']')) throw new CreateOptionsError(`invalid IP address ${ip}: address ${ip}:: missing ']' in address`);
    ip = ip.slice(1, -1);
  }
  if (ip !== '' && isIP(ip) === 0) throw new CreateOptionsError(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new CreateOptionsError(`no port specified: ${spec}<empty>`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new CreateOptionsError(`invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPort !== '') {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort);
    } catch {
      throw new CreateOptionsError(`invalid hostPort: ${hostPort}`);
    }
  }
  if (hostPort !== '' && end - start !== hostEnd - hostStart && end !== start) {
    throw new CreateOptionsError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const protocol = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new CreateOptionsError(`invalid proto: ${proto}`);
  const mappings: PortMapping[] = [];
  for (let i = 0; i <= end - start; i++) {
    let bindingPort = hostPort === '' ? '' : String(hostStart + i);
    // A single container port with a host range: the daemon picks a free port in that range.
    if (start === end && hostStart !== hostEnd) bindingPort = `${bindingPort}-${hostEnd}`;
    mappings.push({ port: `${start + i}/${protocol}`, hostIp: ip, hostPort: bindingPort });
  }
  return mappings;
}

/** All -p values as the API's ExposedPorts and PortBindings. */
export function parsePublish(specs: string[]): { exposed: Record<string, Record<string, never>>; bindings: PortBindingMap } {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: PortBindingMap = {};
  for (const spec of specs) {
    for (const mapping of parsePortSpec(spec)) {
      exposed[mapping.port] = {};
      (bindings[mapping.port] ??= []).push({ HostIp: mapping.hostIp, HostPort: mapping.hostPort });
    }
  }
  return { exposed, bindings };
}

/** One --expose value ("80", "8000-8010/udp") as ExposedPorts keys. */
export function parseExpose(spec: string): Record<string, Record<string, never>> {
  const [proto, portText] = splitProtoPort(spec);
  let range: [number, number];
  try {
    range = parsePortRange(portText);
  } catch (err) {
    throw new CreateOptionsError(`invalid range format for --expose: ${(err as Error).message}`);
  }
  const exposed: Record<string, Record<string, never>> = {};
  for (let port = range[0]; port <= range[1]; port++) exposed[`${port}/${proto.toLowerCase()}`] = {};
  return exposed;
}
