// A light load generator for GET requests over a unix socket: N clients in this one process,
// each its own raw keep-alive connection (no http.Agent, no pipelining: one request in flight
// per connection), each latency taken from the request's write to the last byte of its
// response. On a 2-core machine the generator competes with the daemon for the CPU, so it
// parses only what it must (the status line, Content-Length or chunked framing).
//
//   import { loadGet } from './inspect-load.mjs';
//   const { samples, seconds } = await loadGet(socket, clients, requests, (client, index) => path);
//
//   node bench/inspect-load.mjs --socket /x/berth.sock --clients 200 --requests 10 --path /containers/ID/json
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const HEADER_END = Buffer.from('\r\n\r\n');

/** Where the response that starts at `buffer[0]` ends, or -1 while it is incomplete. */
function responseEnd(buffer) {
  const headerEnd = buffer.indexOf(HEADER_END);
  if (headerEnd < 0) return -1;
  const head = buffer.toString('latin1', 0, headerEnd);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    const end = headerEnd + 4 + Number(length[1]);
    return buffer.length >= end ? end : -1;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let at = headerEnd + 4;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return -1;
      const size = Number.parseInt(buffer.toString('latin1', at, lineEnd), 16);
      const next = lineEnd + 2 + size + 2;
      if (buffer.length < next) return -1;
      if (size === 0) return next;
      at = next;
    }
  }
  // 204/304 and the like: no body.
  return headerEnd + 4;
}

/** One client: `requests` GETs one after the other on one connection; latencies in ms pushed to `samples`. */
function runClient(socketPath, requests, pathOf, client, samples) {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let index = 0;
    let started = 0n;
    let pending = Buffer.alloc(0);
    const send = () => {
      started = process.hrtime.bigint();
      socket.write(`GET ${pathOf(client, index)} HTTP/1.1\r\nHost: bench\r\n\r\n`);
    };
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const end = responseEnd(pending);
      if (end < 0) return;
      const latency = Number(process.hrtime.bigint() - started) / 1e6;
      const status = pending.toString('latin1', 9, 12);
      if (status[0] !== '2') {
        socket.destroy();
        reject(new Error(`GET ${pathOf(client, index)}: HTTP ${status}`));
        return;
      }
      samples.push(latency);
      pending = pending.subarray(end);
      if (++index < requests) send();
      else socket.end(resolve);
    });
    socket.on('error', reject);
  });
}

/** `clients` connections at once, each sending `requests` GETs back to back; all latencies (ms) and the wall time (s). */
export async function loadGet(socketPath, clients, requests, pathOf) {
  const samples = [];
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, (_, client) => runClient(socketPath, requests, pathOf, client, samples)));
  return { samples, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      socket: { type: 'string' }, clients: { type: 'string', default: '200' }, requests: { type: 'string', default: '10' },
      path: { type: 'string', multiple: true },
    },
  });
  const paths = values.path ?? ['/_ping'];
  const { samples, seconds } = await loadGet(values.socket, Number(values.clients), Number(values.requests),
    (client, index) => paths[(client * Number(values.requests) + index) % paths.length]);
  console.log(`${samples.length} requests in ${seconds.toFixed(2)} s (${(samples.length / seconds).toFixed(0)}/s): `
    + `p50 ${percentile(samples, 50).toFixed(1)} ms, p99 ${percentile(samples, 99).toFixed(1)} ms, max ${Math.max(...samples).toFixed(1)} ms`);
}
