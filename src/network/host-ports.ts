// Host ports held by berthd for published container ports, as docker-proxy holds them: the
// socket is bound (never read: DNAT takes the traffic before it), so that no other host
// process can take the port while the container has it, and a port a host process already
// has is found at start. Port 0 lets the kernel pick from ip_local_port_range (-P).
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { PortMapping, PortProtocol, PortRequest } from './ports.js';

export class PortInUseError extends Error {
  constructor(readonly address: string, readonly port: number, readonly proto: PortProtocol) {
    super(`${address}:${port}/${proto}: address already in use`);
  }
}

export interface HeldPort {
  readonly port: number;
  close(): Promise<void>;
}

/** Binds host port `port` (0: any free one) on `address` ('' = 0.0.0.0). */
export function holdPort(proto: PortProtocol, address: string, port: number): Promise<HeldPort> {
  const host = address || '0.0.0.0';
  if (proto === 'udp') {
    return new Promise((resolve, reject) => {
      const socket: Socket = createSocket({ type: 'udp4' });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        socket.close();
        reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port, proto) : error);
      });
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        resolve({ port: socket.address().port, close: () => new Promise((done) => socket.close(() => done())) });
      });
    });
  }
  return new Promise((resolve, reject) => {
    const server: Server = createServer((connection) => connection.destroy());
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port, proto) : error);
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.removeAllListeners('error');
      server.on('error', () => undefined);
      const bound = server.address();
      resolve({ port: typeof bound === 'object' && bound ? bound.port : port, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

/**
 * Holds a host port for each request (a free one for port 0, the first free one of a range)
 * and returns the mappings; Docker's errors for a port another container has ("port is already
 * allocated") or a host process has ("address already in use"). On failure nothing stays held.
 */
export async function holdHostPorts(
  requests: readonly PortRequest[],
  allocated: (proto: PortProtocol, hostIp: string, port: number) => boolean,
  failure: (detail: (containerIp: string) => string) => Error,
): Promise<{ held: HeldPort[]; mappings: PortMapping[] }> {
  const held: HeldPort[] = [];
  const mappings: PortMapping[] = [];
  try {
    for (const request of requests) {
      const port = request.proto === 'sctp' ? undefined : await holdOne(request, allocated, failure);
      if (port) held.push(port);
      mappings.push({ proto: request.proto, containerPort: request.containerPort, hostIp: request.hostIp, hostPort: port?.port ?? request.hostPort });
    }
  } catch (error) {
    await Promise.all(held.map((port) => port.close()));
    throw error;
  }
  return { held, mappings };
}

async function holdOne(
  request: PortRequest,
  allocated: (proto: PortProtocol, hostIp: string, port: number) => boolean,
  failure: (detail: (containerIp: string) => string) => Error,
): Promise<HeldPort> {
  const address = request.hostIp || '0.0.0.0';
  const last = request.hostPortEnd ?? request.hostPort;
  for (let port = request.hostPort; port <= last; port++) {
    if (port !== 0 && allocated(request.proto, request.hostIp, port)) {
      if (port < last) continue;
      throw failure(() => `Bind for ${address}:${port} failed: port is already allocated`);
    }
    try {
      return await holdPort(request.proto, request.hostIp, port);
    } catch (error) {
      if (!(error instanceof PortInUseError)) throw error;
      if (port < last) continue;
      throw failure((containerIp) => `failed to bind host port for ${address}:${port}:${containerIp}:${request.containerPort}/${request.proto}: address already in use`);
    }
  }
  throw failure(() => `Bind for ${address}:${request.hostPort} failed: port is already allocated`);
}

/** The ports of a container that kept running while berthd was away, held again (one a host process took meanwhile is skipped). */
export async function holdMappings(mappings: readonly PortMapping[]): Promise<HeldPort[]> {
  const held: HeldPort[] = [];
  for (const mapping of mappings) {
    if (mapping.proto === 'sctp') continue;
    const port = await holdPort(mapping.proto, mapping.hostIp, mapping.hostPort).catch(() => undefined);
    if (port) held.push(port);
  }
  return held;
}
