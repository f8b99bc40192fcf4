// Waits until an Engine API daemon answers GET /_ping on a unix socket, so that
// bench/run.sh starts timing only once the daemon is up.
//
//   node bench/wait-ping.mjs SOCKET [TIMEOUT_SECONDS]
// Exits 0 when the daemon answered 200, 1 on timeout.
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const [socketPath, timeoutText = '30'] = process.argv.slice(2);
if (!socketPath) {
  console.error('usage: node bench/wait-ping.mjs SOCKET [TIMEOUT_SECONDS]');
  process.exit(2);
}

function ping() {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const deadline = Date.now() + Number(timeoutText) * 1000;
while (Date.now() < deadline) {
  if (await ping()) process.exit(0);
  await sleep(100);
}
console.error(`no answer to /_ping on ${socketPath} within ${timeoutText} s`);
process.exit(1);
