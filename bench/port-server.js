// The server in the container for bench/port-load.mjs (the host's node, mounted read-only): one
// process, no fork per request, keep-alive. /small answers "hello"; /big?mb=N sends N MiB of zeros
// from one buffer, so that the server costs little beside the path being measured.
const http = require('node:http');
const chunk = Buffer.alloc(1 << 20);
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname !== '/big') {
    res.end('hello\n');
    return;
  }
  const total = Number(url.searchParams.get('mb') || 64);
  res.writeHead(200, { 'Content-Length': String(total * chunk.length) });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent++;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}).listen(80);
