// The docker CLI's own floor: an Engine API server that answers from memory, at once. Each
// distinct request (method and URL) is forwarded once to the daemon given as --upstream and
// its answer (status, headers, body) kept; every later one is answered from that copy without
// touching the daemon. So `docker -H unix://FLOOR ps -a` timed after a warm-up run costs the
// docker CLI's start, its connection and requests, and its printing, and nothing of a daemon.
// Not a test: bench/compare.mjs starts it beside both daemons.
//
//   node bench/floor-server.mjs --listen /tmp/floor.sock --upstream /run/berth/berth.sock
// Prints "ready" once listening; ends on SIGTERM.
import { createServer, request } from 'node:http';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({ options: { listen: { type: 'string' }, upstream: { type: 'string' } } });
if (!options.listen || !options.upstream) throw new Error('usage: floor-server.mjs --listen SOCKET --upstream SOCKET');

/** method + url → { status, headers, body } as the upstream daemon answered it. */
const canned = new Map();

function forward(incoming, body) {
  return new Promise((resolve, reject) => {
    const headers = { ...incoming.headers };
    delete headers.connection;
    const upstream = request({ socketPath: options.upstream, method: incoming.method, path: incoming.url, headers }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        const kept = { ...response.headers };
        // Node sets these itself for the copy.
        for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'date']) delete kept[name];
        resolve({ status: response.statusCode, headers: kept, body: Buffer.concat(chunks) });
      });
      response.on('error', reject);
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
}

const server = createServer((incoming, outgoing) => {
  const chunks = [];
  incoming.on('data', (chunk) => chunks.push(chunk));
  incoming.on('end', async () => {
    const key = `${incoming.method} ${incoming.url}`;
    try {
      let answer = canned.get(key);
      if (!answer) {
        answer = await forward(incoming, Buffer.concat(chunks));
        canned.set(key, answer);
      }
      outgoing.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
      outgoing.end(incoming.method === 'HEAD' ? undefined : answer.body);
    } catch (error) {
      outgoing.writeHead(502);
      outgoing.end(String(error));
    }
  });
});
rmSync(options.listen, { force: true });
server.listen(options.listen, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  server.close();
  rmSync(options.listen, { force: true });
  process.exit(0);
});
