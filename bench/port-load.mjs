// Load through a published port on 127.0.0.1: requests per second for a small file with 8
// clients for N seconds (busybox httpd closes each connection, so this counts connections
// too), and the MB/s of one 64 MiB download. Usage: node bench/port-load.mjs PORT SECONDS
import { request } from 'node:http';

const [port, seconds = '5'] = process.argv.slice(2).map(Number);

function get(path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => { bytes += chunk.length; });
      res.on('end', () => resolve(bytes));
    });
    req.on('error', reject);
    req.end();
  });
}

for (let attempt = 0; ; attempt++) {
  try {
    await get('/small');
    break;
  } catch (error) {
    if (attempt > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const deadline = Date.now() + seconds * 1000;
let requests = 0;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (Date.now() < deadline) {
    await get('/small');
    requests++;
  }
}));
const started = process.hrtime.bigint();
const bytes = await get('/big');
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`${(requests / seconds).toFixed(0)} requests/s (8 clients), ${(bytes / 1048576 / elapsed).toFixed(0)} MB/s (64 MiB download)`);
