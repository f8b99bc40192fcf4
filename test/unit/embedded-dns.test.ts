// The embedded DNS server on 127.0.0.1 with an ephemeral port, queried over UDP and TCP with
// dns-packet, forwarding to a tiny upstream server that the test runs on 127.0.0.1.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { countsFit, EmbeddedDnsServer, parseUpstream, ptrNameToAddress, type DnsRecords } from '../../src/network/dns/embedded-dns.js';

const LOOPBACK = '127.0.0.1';

/** A container "web" at 10.9.0.2 and an alias "db" with two addresses; `big` has 60 addresses. */
const records: DnsRecords = {
  lookupA(_client, name) {
    if (name === 'web') return ['10.9.0.2'];
    if (name === 'db') return ['10.9.0.3', '10.9.0.4'];
    if (name === 'big') return Array.from({ length: 60 }, (_, i) => `10.9.1.${i + 1}`);
    if (name === 'nothing') return [];
    if (name === 'boom') throw new Error('records failed');
    return undefined;
  },
  lookupPtr(_client, address) {
    return address === '10.9.0.2' ? 'web' : undefined;
  },
};

type UpstreamMode = 'answer' | 'drop' | 'servfail' | 'truncate' | 'nxdomain';

/** A small DNS server on 127.0.0.1 (UDP and TCP on one port) standing in for the host's resolver. */
class Upstream {
  queries: dnsPacket.DecodedPacket[] = [];
  mode: UpstreamMode = 'answer';
  private constructor(private readonly udp: dgram.Socket, private readonly tcp: net.Server, readonly port: number) {}

  static async start(): Promise<Upstream> {
    for (;;) {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => udp.bind(0, LOOPBACK, resolve));
      const port = udp.address().port;
      const tcp = net.createServer();
      const listening = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, LOOPBACK, () => resolve(true));
      });
      if (!listening) { udp.close(); continue; }
      const upstream = new Upstream(udp, tcp, port);
      udp.on('message', (message, remote) => {
        const reply = upstream.reply(message, 'udp');
        if (reply) udp.send(reply, remote.port, remote.address);
      });
      tcp.on('connection', (socket) => {
        socket.on('error', () => {});
        let pending: Buffer = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
            const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
            pending = pending.subarray(2 + message.length);
            const reply = upstream.reply(message, 'tcp');
            if (reply) socket.write(Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 0xff]), reply]));
          }
        });
      });
      return upstream;
    }
  }

  private reply(message: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    const query = dnsPacket.decode(message);
    this.queries.push(query);
    if (this.mode === 'drop') return undefined;
    const base = { type: 'response' as const, id: query.id, questions: query.questions };
    if (this.mode === 'servfail') return dnsPacket.encode({ ...base, flags: 2 });
    if (this.mode === 'nxdomain') return dnsPacket.encode({ ...base, flags: 3 });
    const name = query.questions![0]!.name;
    if (this.mode === 'truncate' && transport === 'udp') return dnsPacket.encode({ ...base, flags: dnsPacket.TRUNCATED_RESPONSE });
    const count = this.mode === 'truncate' ? 40 : 1;
    const answers = Array.from({ length: count }, (_, i) => ({ type: 'TXT' as const, name, ttl: 30, data: `upstream answer ${i} `.padEnd(40, '.') }));
    return dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE, answers });
  }

  async close(): Promise<void> {
    await Promise.all([new Promise<void>((r) => this.udp.close(() => r())), new Promise<void>((r) => this.tcp.close(() => r()))]);
  }
}

function query(name: string, type: dnsPacket.RecordType, id = randomInt(0x10000)): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
}

/** Sends raw bytes over UDP; the decoded answer, or undefined after `waitMs` without one. */
async function askUdp(port: number, message: Buffer, waitMs = 3000): Promise<dnsPacket.DecodedPacket | undefined> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      socket.on('error', reject);
      socket.on('message', (answer) => { clearTimeout(timer); resolve(dnsPacket.decode(answer)); });
      socket.send(message, port, LOOPBACK);
    });
  } finally {
    socket.close();
  }
}

/** Sends length-prefixed messages over one TCP connection; collects `expect` answers. */
async function askTcp(port: number, messages: Buffer[], expect = messages.length, waitMs = 3000): Promise<dnsPacket.DecodedPacket[]> {
  const socket = net.connect(port, LOOPBACK);
  try {
    return await new Promise((resolve, reject) => {
      const answers: dnsPacket.DecodedPacket[] = [];
      const timer = setTimeout(() => resolve(answers), waitMs);
      let pending: Buffer = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          answers.push(dnsPacket.decode(pending.subarray(2, 2 + pending.readUInt16BE(0))));
          pending = pending.subarray(2 + pending.readUInt16BE(0));
          if (answers.length === expect) { clearTimeout(timer); resolve(answers); }
        }
      });
      socket.write(Buffer.concat(messages.flatMap((m) => [Buffer.from([m.length >> 8, m.length & 0xff]), m])));
    });
  } finally {
    socket.destroy();
  }
}

const rcodeOf = (packet: dnsPacket.DecodedPacket | undefined): string => (packet as { rcode?: string } | undefined)?.rcode ?? 'none';

describe('embedded DNS server', () => {
  let upstream: Upstream;
  let second: Upstream;
  let server: EmbeddedDnsServer;

  before(async () => {
    upstream = await Upstream.start();
    second = await Upstream.start();
    server = await EmbeddedDnsServer.start({
      address: LOOPBACK, port: 0, records, upstreams: [`${LOOPBACK}:${upstream.port}`, `${LOOPBACK}:${second.port}`],
      upstreamTimeoutMs: 400, log: () => {},
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
    await second.close();
  });
  const reset = (mode: UpstreamMode = 'answer', secondMode: UpstreamMode = 'answer'): void => {
    upstream.queries = []; second.queries = [];
    upstream.mode = mode; second.mode = secondMode;
  };

  it('answers A for its names over UDP and TCP, with TTL 600, the client id, RD copied and RA set', async () => {
    reset();
    const udp = await askUdp(server.port, query('Web', 'A', 4242));
    assert.equal(udp?.id, 4242);
    assert.equal(rcodeOf(udp), 'NOERROR');
    assert.ok(udp?.flag_qr && udp.flag_rd && udp.flag_ra && !udp.flag_aa);
    assert.deepEqual(udp?.questions, [{ name: 'Web', type: 'A', class: 'IN' }]);
    assert.deepEqual(udp?.answers?.map((a) => { const { name, type, ttl, data } = a as dnsPacket.StringAnswer; return [name, type, ttl, data]; }), [['Web', 'A', 600, '10.9.0.2']]);
    const [tcp] = await askTcp(server.port, [query('db.', 'A', 7)]);
    assert.equal(tcp?.id, 7);
    assert.deepEqual(tcp?.answers?.map((a) => (a as dnsPacket.StringAnswer).data).sort(), ['10.9.0.3', '10.9.0.4']);
    assert.equal(upstream.queries.length, 0, 'our names are never forwarded');
  });

  it('answers AAAA and MX for its names with NOERROR and no records, and an empty A set likewise', async () => {
    reset();
    for (const [name, type] of [['web', 'AAAA'], ['db', 'MX'], ['nothing', 'A']] as const) {
      const answer = await askUdp(server.port, query(name, type));
      assert.equal(rcodeOf(answer), 'NOERROR', `${type} ${name}`);
      assert.deepEqual(answer?.answers, []);
    }
    assert.equal(upstream.queries.length, 0);
  });

  it('answers PTR for its addresses and forwards the others', async () => {
    reset();
    const ours = await askUdp(server.port, query('2.0.9.10.in-addr.arpa', 'PTR'));
    assert.deepEqual(ours?.answers?.map((a) => { const { type, ttl, data } = a as dnsPacket.StringAnswer; return [type, ttl, data]; }), [['PTR', 600, 'web']]);
    const theirs = await askUdp(server.port, query('9.0.9.10.in-addr.arpa', 'PTR'));
    assert.equal(rcodeOf(theirs), 'NOERROR');
    assert.equal(upstream.queries.length, 1);
    assert.equal(theirs?.answers?.[0]?.type, 'TXT');
  });

  it('forwards other names and types upstream and gives the client its own id back', async () => {
    reset();
    const answer = await askUdp(server.port, query('example.test', 'A', 999));
    assert.equal(answer?.id, 999);
    assert.equal(rcodeOf(answer), 'NOERROR');
    assert.equal(answer?.answers?.[0]?.type, 'TXT', 'the upstream answer, relayed');
    assert.equal(upstream.queries.length, 1);
    assert.equal(upstream.queries[0]?.questions?.[0]?.name, 'example.test');
    const [overTcp] = await askTcp(server.port, [query('web', 'TXT', 1000)]);
    assert.equal(overTcp?.id, 1000);
    assert.equal(upstream.queries.length, 2, 'a TXT query for our own name is forwarded too (as Docker)');
  });

  it('falls back to TCP when the upstream answer over UDP is truncated', async () => {
    reset('truncate');
    const [overTcp] = await askTcp(server.port, [query('large.test', 'TXT', 55)]);
    assert.equal(overTcp?.id, 55);
    assert.equal(overTcp?.answers?.length, 40, 'the whole answer, fetched over TCP');
    assert.equal(overTcp?.flag_tc, false);
    const overUdp = await askUdp(server.port, query('large.test', 'TXT', 56));
    assert.equal(overUdp?.id, 56);
    assert.equal(overUdp?.flag_tc, true, 'too large for a 512-byte UDP client: truncated, so that it asks over TCP');
  });

  it('truncates its own answers to fit a UDP client and sends them whole over TCP', async () => {
    reset();
    const overUdp = await askUdp(server.port, query('big', 'A'));
    assert.equal(overUdp?.flag_tc, true);
    assert.ok((overUdp?.answers?.length ?? 0) > 0 && (overUdp?.answers?.length ?? 0) < 60);
    const [overTcp] = await askTcp(server.port, [query('big', 'A')]);
    assert.equal(overTcp?.answers?.length, 60);
    assert.equal(overTcp?.flag_tc, false);
  });

  it('tries the next upstream after SERVFAIL or silence, and answers SERVFAIL when none answers', async () => {
    reset('servfail');
    const fromSecond = await askUdp(server.port, query('a.test', 'A'));
    assert.equal(rcodeOf(fromSecond), 'NOERROR');
    assert.equal(second.queries.length, 1);
    reset('drop', 'drop');
    const started = Date.now();
    const failed = await askUdp(server.port, query('b.test', 'A', 31337));
    assert.equal(failed?.id, 31337);
    assert.equal(rcodeOf(failed), 'SERVFAIL');
    assert.deepEqual(failed?.questions?.map((q) => q.name), ['b.test']);
    assert.ok(Date.now() - started < 2500, 'each upstream waited for its timeout only');
    reset('nxdomain', 'nxdomain');
    const missing = await askUdp(server.port, query('c.test', 'A'));
    assert.equal(rcodeOf(missing), 'NXDOMAIN', 'a name that no upstream knows is NXDOMAIN, not SERVFAIL');
  });

  it('answers pipelined queries on one TCP connection', async () => {
    reset();
    const answers = await askTcp(server.port, [query('web', 'A', 1), query('x.test', 'A', 2), query('db', 'AAAA', 3)]);
    assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2, 3]);
  });

  it('does not answer responses, and answers FORMERR or NOTIMP to what it cannot take', async () => {
    reset();
    const response = dnsPacket.encode({ type: 'response', id: 5, questions: [{ type: 'A', name: 'web' }] });
    assert.equal(await askUdp(server.port, response, 300), undefined);
    const twoQuestions = dnsPacket.encode({ type: 'query', id: 6, questions: [{ type: 'A', name: 'web' }, { type: 'A', name: 'db' }] });
    assert.equal(rcodeOf(await askUdp(server.port, twoQuestions)), 'FORMERR');
    const noQuestion = dnsPacket.encode({ type: 'query', id: 8, questions: [] });
    assert.equal(rcodeOf(await askUdp(server.port, noQuestion)), 'FORMERR');
    const update = query('web', 'A', 7);
    update.writeUInt16BE(update.readUInt16BE(2) | (5 << 11), 2); // opcode UPDATE
    assert.equal(rcodeOf(await askUdp(server.port, update)), 'NOTIMP');
    assert.equal(rcodeOf(await askUdp(server.port, query('boom', 'A'))), 'SERVFAIL', 'a failing lookup is SERVFAIL, not a dead server');
    assert.equal(upstream.queries.length, 0);
  });

  it('survives random and truncated packets over UDP and TCP and still answers', async () => {
    reset('drop', 'drop');
    const valid = [query('web', 'A'), query('2.0.9.10.in-addr.arpa', 'PTR'), query('db', 'AAAA')];
    const garbage: Buffer[] = [];
    for (let i = 0; i < 1500; i++) garbage.push(randomBytes(randomInt(0, 80)));
    for (const message of valid) for (let cut = 0; cut < message.length; cut++) garbage.push(message.subarray(0, cut));
    for (let i = 0; i < 300; i++) {
      const mutated = Buffer.from(valid[i % valid.length]!);
      mutated[randomInt(mutated.length)] = randomInt(256);
      mutated.writeUInt16BE(mutated.readUInt16BE(2) & 0x7fff, 2); // keep it a query
      garbage.push(mutated);
    }
    const sender = dgram.createSocket('udp4');
    sender.on('message', () => {});
    for (const message of garbage) await new Promise<void>((resolve) => sender.send(message, server.port, LOOPBACK, () => resolve()));
    sender.close();
    // Over TCP: garbage framed properly, then a frame announcing more bytes than ever come.
    const tcp = net.connect(server.port, LOOPBACK);
    tcp.on('error', () => {});
    await new Promise<void>((resolve) => tcp.on('connect', resolve));
    for (const message of garbage.slice(0, 300)) tcp.write(Buffer.concat([Buffer.from([message.length >> 8, message.length & 0xff]), message]));
    tcp.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    tcp.destroy();
    const raw = net.connect(server.port, LOOPBACK);
    raw.on('error', () => {});
    raw.end(randomBytes(1));
    // A flood may fill the socket's receive buffer and drop the next datagram: retry as a resolver does.
    let afterwards: dnsPacket.DecodedPacket | undefined;
    // (Five tries of two seconds, as a loaded machine may be slow to drain the flood.)
    for (let attempt = 0; attempt < 5 && !afterwards; attempt++) afterwards = await askUdp(server.port, query('web', 'A', 77), 2000);
    assert.equal(afterwards?.id, 77);
    assert.deepEqual(afterwards?.answers?.map((a) => (a as dnsPacket.StringAnswer).data), ['10.9.0.2']);
    const [overTcp] = await askTcp(server.port, [query('web', 'A', 78)]);
    assert.equal(overTcp?.id, 78);
  });

  it('forwards at most 100 queries at once and answers SERVFAIL beyond that', async () => {
    reset('drop', 'drop');
    const socket = dgram.createSocket('udp4');
    const answers: dnsPacket.DecodedPacket[] = [];
    socket.on('message', (message) => answers.push(dnsPacket.decode(message)));
    await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
    const started = Date.now();
    for (let i = 0; i < 130; i++) await new Promise<void>((resolve) => socket.send(query(`n${i}.test`, 'A', i), server.port, LOOPBACK, () => resolve()));
    while (answers.length < 30 && Date.now() - started < 350) await new Promise((resolve) => setTimeout(resolve, 10));
    const early = answers.length;
    while (answers.length < 130 && Date.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 20));
    socket.close();
    assert.ok(early >= 30, `queries beyond the limit are answered at once (${early} before the upstream timeout)`);
    assert.equal(answers.length, 130);
    assert.ok(answers.every((a) => rcodeOf(a) === 'SERVFAIL'));
    assert.ok(upstream.queries.length <= 100, `at most 100 outstanding (${upstream.queries.length} forwarded)`);
  });

  it('forwards a client\'s queries to its own servers (its container\'s --dns) when it has some', async () => {
    reset();
    const own = await EmbeddedDnsServer.start({
      address: LOOPBACK, port: 0, records: { ...records, upstreamsFor: (client) => (client === LOOPBACK ? [`${LOOPBACK}:${second.port}`] : undefined) },
      upstreams: [`${LOOPBACK}:${upstream.port}`], upstreamTimeoutMs: 400, log: () => {},
    });
    try {
      assert.equal(rcodeOf(await askUdp(own.port, query('example.test', 'A'))), 'NOERROR');
      assert.equal(second.queries.length, 1, 'the client\'s own server was asked');
      assert.equal(upstream.queries.length, 0, 'the server\'s own upstream was not');
      assert.equal(rcodeOf(await askUdp(own.port, query('web', 'A'))), 'NOERROR');
      assert.equal(second.queries.length, 1, 'the network\'s names are still answered locally');
    } finally {
      await own.close();
    }
  });

  it('releases its port on close', async () => {
    const other = await EmbeddedDnsServer.start({ address: LOOPBACK, port: 0, records, upstreams: [], log: () => {} });
    const port = other.port;
    assert.equal(rcodeOf(await askUdp(port, query('x.test', 'A'))), 'SERVFAIL', 'no upstream: SERVFAIL');
    await other.close();
    const again = await EmbeddedDnsServer.start({ address: LOOPBACK, port, records, upstreams: [], log: () => {} });
    await again.close();
  });
});

describe('embedded DNS helpers', () => {
  it('parses upstreams', () => {
    assert.deepEqual(parseUpstream('192.0.2.1'), { host: '192.0.2.1', port: 53 });
    assert.deepEqual(parseUpstream('127.0.0.53:5353'), { host: '127.0.0.53', port: 5353 });
    assert.deepEqual(parseUpstream('[::1]:54'), { host: '::1', port: 54 });
    assert.deepEqual(parseUpstream('::1'), { host: '::1', port: 53 });
    assert.equal(parseUpstream('resolver.example'), undefined);
    assert.equal(parseUpstream('1.2.3.4:0'), undefined);
  });
  it('refuses before decoding a header whose counts cannot fit the message', () => {
    const message = query('web', 'A');
    assert.equal(countsFit(message), true);
    const inflated = Buffer.from(message);
    inflated.writeUInt16BE(0xffff, 6);
    assert.equal(countsFit(inflated), false);
    assert.equal(countsFit(message.subarray(0, 11)), false);
  });
  it('reads IPv4 PTR names', () => {
    assert.equal(ptrNameToAddress('4.3.2.1.in-addr.arpa'), '1.2.3.4');
    assert.equal(ptrNameToAddress('3.2.1.in-addr.arpa'), undefined);
    assert.equal(ptrNameToAddress('b.a.ip6.arpa'), undefined);
    assert.equal(ptrNameToAddress('300.3.2.1.in-addr.arpa'), undefined);
  });
});
