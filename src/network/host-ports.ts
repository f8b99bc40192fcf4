// Host ports held by berthd for published container ports, as docker-proxy holds them: the
// socket is bound (never read: DNAT takes the traffic before it), so that no other host
// process can take the port while the container has it, and a port a host process already
// has is found at start. Port 0 lets the kernel pick from ip_local_port_range (-P).
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { PortProtocol } from './ports.js';

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
