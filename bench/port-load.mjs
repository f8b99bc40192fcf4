// Load through a published port on 127.0.0.1, against bench/port-server.js in the container:
// requests per second with 8 kept-alive connections (the per-packet path), new connections per
// second (one request each: what a proxy pays per connection), both for N seconds, and the MB/s of
// one 512 MiB download read by curl (the byte path). Usage: node bench/port-load.mjs PORT SECONDS
import { Agent, request } from 'node:http';
import { execFileSync } from 'node:child_process';

const [port, seconds = 5] = process.argv.slice(2).map(Number);
const keepAlive = new Agent({ keepAlive: true, maxSockets: 8 });

function get(path, agent) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.on('data', () => {});
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

for (let attempt = 0; ; attempt++) {
  try {
    await get('/small', false);
    break;
  } catch (error) {
    if (attempt > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function rate(agent) {
  const deadline = Date.now() + seconds * 1000;
  let count = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (Date.now() < deadline) {
      await get('/small', agent);
      count++;
    }
  }));
  return count / seconds;
}

const requests = await rate(keepAlive);
keepAlive.destroy();
const connections = await rate(false);
const speed = Number(execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download}', `http://127.0.0.1:${port}/big?mb=512`], { encoding: 'utf8' }));
console.log(`${requests.toFixed(0)} requests/s (8 kept-alive connections), ${connections.toFixed(0)} connections/s (a request each, 8 at a time), `
  + `${(speed / 1048576).toFixed(0)} MB/s (512 MiB download, curl)`);
