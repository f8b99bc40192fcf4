// The embedded DNS server of a user-defined network, after Docker's (moby libnetwork/resolver.go):
// containers on the network have it as their only nameserver. It answers A queries for the
// network's names (containers, aliases, links) with TTL 600, AAAA (and MX) for those names with
// NOERROR and no records (so that resolvers do not ask the upstreams and fail), PTR for the
// network's addresses, and forwards everything else to the asking container's --dns servers if it has
// any, else to the host's resolvers: UDP first, TCP
// when the UDP answer is truncated, SERVFAIL when no upstream answers. One server listens on
// UDP and TCP (length-prefixed messages) on the same address and port.
//
// Packets are encoded and decoded by dns-packet; a forwarded query and its answer are relayed
// as they are, with only the message id swapped (the upstream sees our own random id, the
// client gets its own back). Nothing a client sends may end the daemon: every socket has an
// error handler, every packet is handled inside a try, and forwarded queries are bounded.
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';

export interface DnsRecords {
  /** IPv4 addresses of `name` (lower-case, no trailing dot) as seen by a container at clientAddress; undefined = not ours, forward upstream */
  lookupA(clientAddress: string, name: string): string[] | undefined;
  /** the name for an IPv4 address on this network, or undefined (forward) */
  lookupPtr(clientAddress: string, address: string): string | undefined;
  /** the upstreams of the container at clientAddress (its --dns), or undefined: the server's own */
  upstreamsFor?(clientAddress: string): string[] | undefined;
}

export interface EmbeddedDnsOptions {
  address: string;
  /** 53 by default; 0 picks a free port (tests) */
  port?: number;
  records: DnsRecords;
  /** "ip" or "ip:port" ("[ip6]:port"); Docker uses the first three */
  upstreams: string[];
  /** how long one upstream may take to answer (Docker: 4 s) */
  upstreamTimeoutMs?: number;
  log?: (message: string) => void;
}

const RESPONSE_TTL = 600;
const MAX_UPSTREAMS = 3;
const MAX_CLIENT_UPSTREAM_SETS = 256;
const UPSTREAM_TIMEOUT_MS = 4000;
const MAX_CONCURRENT_FORWARDS = 100;
const DEFAULT_UDP_SIZE = 512;
const TCP_IDLE_MS = 8000;
const MAX_TCP_CONNECTIONS = 1000;
const LOG_INTERVAL_MS = 2000;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const OPCODE_QUERY = 0;
const FLAG_QR = 0x8000;
const HEADER_BYTES = 12;
const PTR_IPV4_SUFFIX = '.in-addr.arpa';

type Transport = 'udp' | 'tcp';

interface Upstream {
  host: string;
  port: number;
}

/** "ip", "ip:port", "[ip6]" or "[ip6]:port" → host and port; undefined when it is none of them. */
export function parseUpstream(text: string): Upstream | undefined {
  if (net.isIP(text)) return { host: text, port: 53 };
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!match || !net.isIP(match[1]!)) return undefined;
  const port = match[2] === undefined ? 53 : Number(match[2]);
  return port > 0 && port < 65536 ? { host: match[1]!, port } : undefined;
}

/** "4.3.2.1.in-addr.arpa" → "1.2.3.4"; undefined for anything else (IPv6 PTRs are forwarded). */
export function ptrNameToAddress(name: string): string | undefined {
  if (!name.endsWith(PTR_IPV4_SUFFIX)) return undefined;
  const octets = name.slice(0, -PTR_IPV4_SUFFIX.length).split('.');
  if (octets.length !== 4) return undefined;
  const address = octets.reverse().join('.');
  return net.isIPv4(address) ? address : undefined;
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** The largest answer a client over UDP takes: its EDNS0 buffer size, at least 512. */
function udpSizeOf(query: dnsPacket.DecodedPacket): number {
  const opt = query.additionals?.find((record) => record.type === 'OPT') as dnsPacket.OptAnswer | undefined;
  return Math.max(DEFAULT_UDP_SIZE, opt?.udpPayloadSize ?? 0);
}

/**
 * Whether the header's section counts can be true for a message this long (a question takes 5
 * bytes at least, a record 11). dns-packet allocates arrays of the announced lengths before it
 * reads a record, so a 20-byte packet announcing 65535 of each would cost megabytes: such a
 * message is refused before it is decoded.
 */
export function countsFit(message: Buffer): boolean {
  if (message.length < HEADER_BYTES) return false;
  const questions = message.readUInt16BE(4);
  const records = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  return HEADER_BYTES + questions * 5 + records * 11 <= message.length;
}

function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message);
  copy.writeUInt16BE(id, 0);
  return copy;
}

export class EmbeddedDnsServer {
  private readonly records: DnsRecords;
  private readonly upstreams: Upstream[];
  /** containers' --dns lists, parsed once */
  private readonly clientUpstreams = new Map<string, Upstream[]>();
  private readonly upstreamTimeoutMs: number;
  private readonly log: (message: string) => void;
  private readonly tcpConnections = new Set<net.Socket>();
  /** cancels each forwarded exchange under way, so that close() leaves no socket behind */
  private readonly exchanges = new Set<() => void>();
  private forwarding = 0;
  private lastLimitLog = 0;
  private closed = false;

  private constructor(
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    readonly address: string,
    readonly port: number,
    options: EmbeddedDnsOptions,
  ) {
    this.records = options.records;
    this.upstreamTimeoutMs = options.upstreamTimeoutMs ?? UPSTREAM_TIMEOUT_MS;
    this.log = options.log ?? ((message) => process.stderr.write(`berthd: ${message}\n`));
    this.upstreams = this.parseUpstreams(options.upstreams);
  }

  private parseUpstreams(texts: readonly string[]): Upstream[] {
    const upstreams: Upstream[] = [];
    for (const text of texts) {
      const upstream = parseUpstream(text);
      if (upstream) upstreams.push(upstream);
      else this.log(`[resolver] ignoring the upstream DNS server ${JSON.stringify(text)}: not an IP address`);
      if (upstreams.length === MAX_UPSTREAMS) break;
    }
    return upstreams;
  }

  /** Where a client's queries go: its container's own servers (--dns) if it has any, else the server's. */
  private upstreamsOf(clientAddress: string): Upstream[] {
    const own = this.records.upstreamsFor?.(clientAddress);
    if (!own?.length) return this.upstreams;
    const key = own.join(' ');
    let parsed = this.clientUpstreams.get(key);
    if (!parsed) {
      parsed = this.parseUpstreams(own);
      if (this.clientUpstreams.size >= MAX_CLIENT_UPSTREAM_SETS) this.clientUpstreams.clear();
      this.clientUpstreams.set(key, parsed);
    }
    return parsed;
  }

  static async start(options: EmbeddedDnsOptions): Promise<EmbeddedDnsServer> {
    const wanted = options.port ?? 53;
    // With port 0 the UDP socket picks the port and TCP must get the same one, which another
    // process may hold: pick again a few times.
    for (let attempt = 0; ; attempt++) {
      const udp = await bindUdp(options.address, wanted);
      const port = udp.address().port;
      try {
        const tcp = await listenTcp(options.address, port);
        const server = new EmbeddedDnsServer(udp, tcp, options.address, port, options);
        server.serve();
        return server;
      } catch (error) {
        udp.close();
        if (wanted !== 0 || attempt >= 5 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of this.exchanges) cancel();
    for (const socket of this.tcpConnections) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
  }

  private serve(): void {
    this.udp.on('error', (error) => this.log(`[resolver] UDP socket on ${this.address}:${this.port}: ${error.message}`));
    this.udp.on('message', (message, remote) => {
      void this.answer(message, remote.address, 'udp').then((reply) => {
        if (!reply || this.closed) return;
        this.udp.send(reply, remote.port, remote.address, () => { /* a client gone is not our error */ });
      });
    });
    this.tcp.maxConnections = MAX_TCP_CONNECTIONS;
    this.tcp.on('error', (error) => this.log(`[resolver] TCP listener on ${this.address}:${this.port}: ${error.message}`));
    this.tcp.on('connection', (socket) => this.serveTcp(socket));
  }

  private serveTcp(socket: net.Socket): void {
    this.tcpConnections.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.tcpConnections.delete(socket));
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    const clientAddress = socket.remoteAddress ?? '';
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        void this.answer(Buffer.from(message), clientAddress, 'tcp').then((reply) => {
          if (!reply || socket.destroyed || !socket.writable) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length, 0);
          socket.write(Buffer.concat([prefix, reply]));
        });
      }
    });
  }

  /** The reply to one message, or undefined when it gets none. Never rejects. */
  private async answer(message: Buffer, clientAddress: string, transport: Transport): Promise<Buffer | undefined> {
    if (message.length < HEADER_BYTES) return undefined;
    const id = message.readUInt16BE(0);
    const flags = message.readUInt16BE(2);
    if (flags & FLAG_QR) return undefined; // an answer sent to us: not a query, no reply
    if (!countsFit(message)) return this.errorReply(id, flags, RCODE.FORMERR);
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return this.errorReply(id, flags, RCODE.FORMERR);
    }
    try {
      if ((flags >> 11) & 0xf) return this.errorReply(id, flags, RCODE.NOTIMP, query.questions);
      if (query.questions?.length !== 1) return this.errorReply(id, flags, RCODE.FORMERR);
      const local = this.answerLocally(query, clientAddress);
      if (local) return this.encodeReply(local, transport === 'udp' ? udpSizeOf(query) : 65535);
      return await this.forward(message, id, query, transport, this.upstreamsOf(clientAddress));
    } catch (error) {
      this.log(`[resolver] failed to handle a query from ${clientAddress}: ${(error as Error).message}`);
      return this.errorReply(id, flags, RCODE.SERVFAIL, query.questions);
    }
  }

  /** Our answer for the network's own names and addresses; undefined = forward it. */
  private answerLocally(query: dnsPacket.DecodedPacket, clientAddress: string): dnsPacket.Packet | undefined {
    const question = query.questions![0]!;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    switch (question.type) {
      case 'A': {
        const addresses = this.records.lookupA(clientAddress, name);
        if (addresses === undefined) return undefined;
        return this.reply(query, shuffled(addresses).map((data) => ({ type: 'A' as const, name: question.name, ttl: RESPONSE_TTL, data })));
      }
      case 'AAAA':
      case 'MX':
        // A name of ours without such records: an empty NOERROR, never forwarded (Docker).
        return this.records.lookupA(clientAddress, name) === undefined ? undefined : this.reply(query, []);
      case 'PTR': {
        const address = ptrNameToAddress(name);
        const host = address === undefined ? undefined : this.records.lookupPtr(clientAddress, address);
        if (!host) return undefined;
        return this.reply(query, [{ type: 'PTR', name: question.name, ttl: RESPONSE_TTL, data: host }]);
      }
      default:
        return undefined;
    }
  }

  /** A reply as miekg/dns's SetReply makes it (id, opcode, RD and CD copied) with RA set. */
  private reply(query: dnsPacket.DecodedPacket, answers: dnsPacket.Answer[], rcode: number = RCODE.NOERROR): dnsPacket.Packet {
    let flags = dnsPacket.RECURSION_AVAILABLE | rcode;
    if (query.flag_rd) flags |= dnsPacket.RECURSION_DESIRED;
    if (query.flag_cd) flags |= dnsPacket.CHECKING_DISABLED;
    return { type: 'response', id: query.id, flags, questions: query.questions, answers };
  }

  private errorReply(id: number, queryFlags: number, rcode: number, questions: dnsPacket.Question[] = []): Buffer {
    const flags = (queryFlags & (0xf << 11)) | (queryFlags & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | rcode;
    try {
      return dnsPacket.encode({ type: 'response', id, flags, questions });
    } catch {
      return dnsPacket.encode({ type: 'response', id, flags, questions: [] }); // a question we cannot write back
    }
  }

  /** Encodes our reply, dropping answers (and setting TC over UDP) until it fits the client's size. */
  private encodeReply(packet: dnsPacket.Packet, maxSize: number): Buffer {
    let encoded = dnsPacket.encode(packet);
    if (encoded.length <= maxSize) return encoded;
    const answers = [...(packet.answers ?? [])];
    const flags = (packet.flags ?? 0) | (maxSize < 65535 ? dnsPacket.TRUNCATED_RESPONSE : 0);
    while (encoded.length > maxSize && answers.length > 0) {
      answers.pop();
      encoded = dnsPacket.encode({ ...packet, flags, answers });
    }
    return encoded;
  }

  /**
   * Asks the upstreams in turn (Docker's order and rules): an upstream that does not answer,
   * answers SERVFAIL or REFUSED or another error, or NXDOMAIN without authority, makes way for
   * the next. The client gets the first good answer, else the last NXDOMAIN, else SERVFAIL.
   */
  private async forward(message: Buffer, id: number, query: dnsPacket.DecodedPacket, transport: Transport, upstreams: readonly Upstream[]): Promise<Buffer> {
    let nameError: Buffer | undefined;
    for (const upstream of upstreams) {
      if (this.forwarding >= MAX_CONCURRENT_FORWARDS) {
        const now = Date.now();
        if (now - this.lastLimitLog > LOG_INTERVAL_MS) {
          this.lastLimitLog = now;
          this.log(`[resolver] more than ${MAX_CONCURRENT_FORWARDS} concurrent queries on ${this.address}`);
        }
        continue;
      }
      this.forwarding++;
      let answer: Buffer | undefined;
      try {
        answer = await this.exchange(upstream, message, transport === 'udp' ? udpSizeOf(query) : 65535);
      } finally {
        this.forwarding--;
      }
      if (!answer || !countsFit(answer)) continue;
      let decoded: dnsPacket.DecodedPacket;
      try {
        decoded = dnsPacket.decode(answer);
      } catch {
        continue;
      }
      const rcode = (decoded.flags ?? 0) & 0xf;
      if (rcode === RCODE.NOERROR) return withId(answer, id);
      if (rcode === RCODE.NXDOMAIN) {
        if (decoded.flag_aa) return withId(answer, id);
        nameError = answer;
      }
    }
    if (nameError) return withId(nameError, id);
    return dnsPacket.encode(this.reply(query, [], RCODE.SERVFAIL));
  }

  /** One upstream's answer to the client's message: over UDP, again over TCP when truncated. */
  private async exchange(upstream: Upstream, message: Buffer, maxSize: number): Promise<Buffer | undefined> {
    const upstreamId = randomInt(0x10000);
    const query = withId(message, upstreamId);
    const overUdp = await this.exchangeUdp(upstream, query, upstreamId);
    if (!overUdp || !(overUdp.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE)) return overUdp;
    const overTcp = await this.exchangeTcp(upstream, query, upstreamId);
    // A UDP client whose buffer the whole answer does not fit gets the truncated one and asks again over TCP.
    return overTcp && overTcp.length <= maxSize ? overTcp : overUdp;
  }

  private exchangeUdp(upstream: Upstream, query: Buffer, upstreamId: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = dgram.createSocket(net.isIPv6(upstream.host) ? 'udp6' : 'udp4');
      const finish = (answer: Buffer | undefined): void => {
        clearTimeout(timer);
        this.exchanges.delete(cancel);
        try { socket.close(); } catch { /* already closed */ }
        resolve(answer);
      };
      const cancel = (): void => finish(undefined);
      const timer = setTimeout(cancel, this.upstreamTimeoutMs);
      this.exchanges.add(cancel);
      socket.on('error', cancel);
      socket.on('message', (answer, remote) => {
        // Only the upstream's answer to this query counts; anything else on the port is ignored.
        if (remote.port !== upstream.port || answer.length < HEADER_BYTES) return;
        if (answer.readUInt16BE(0) !== upstreamId || !(answer.readUInt16BE(2) & FLAG_QR)) return;
        finish(answer);
      });
      socket.connect(upstream.port, upstream.host, () => {
        socket.send(query, (error) => { if (error) cancel(); });
      });
    });
  }

  private exchangeTcp(upstream: Upstream, query: Buffer, upstreamId: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: upstream.host, port: upstream.port });
      let received: Buffer = Buffer.alloc(0);
      const finish = (answer: Buffer | undefined): void => {
        clearTimeout(timer);
        this.exchanges.delete(cancel);
        socket.destroy();
        resolve(answer);
      };
      const cancel = (): void => finish(undefined);
      const timer = setTimeout(cancel, this.upstreamTimeoutMs);
      this.exchanges.add(cancel);
      socket.on('error', cancel);
      socket.on('close', cancel);
      socket.on('connect', () => {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(query.length, 0);
        socket.write(Buffer.concat([prefix, query]));
      });
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length < 2) return;
        const length = received.readUInt16BE(0);
        if (received.length < 2 + length) return;
        const answer = received.subarray(2, 2 + length);
        finish(answer.length >= HEADER_BYTES && answer.readUInt16BE(0) === upstreamId ? Buffer.from(answer) : undefined);
      });
    });
  }
}

function bindUdp(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function listenTcp(address: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
