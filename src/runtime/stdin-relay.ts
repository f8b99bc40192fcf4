// Carries a client's stdin to a container through conmon's attach socket. That socket is a
// SOCK_SEQPACKET unix socket, which Node's net module cannot open, so a tiny python3 relay
// (python3 is installed by scripts/setup.sh) copies its stdin to it. When the client's
// stdin ends, the relay closes the socket and conmon closes the container's stdin.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';

// Packets of at most 8 KiB: conmon reads each packet into a buffer of that order.
// A unix socket's address holds at most 107 bytes, and the socket's path under a long exec
// root does not fit: as conmon binds it and Podman connects to it, the relay connects through
// /proc/self/fd/<fd of the socket's directory>/<name>, which always fits.
const RELAY = `
import os, socket, sys, threading
try:
    directory = os.open(os.path.dirname(sys.argv[1]), os.O_PATH)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect('/proc/self/fd/%d/%s' % (directory, os.path.basename(sys.argv[1])))
    os.close(directory)
except OSError as error:
    sys.stderr.write(error.strerror or str(error))
    sys.exit(2)
def drain():
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
threading.Thread(target=drain, daemon=True).start()
while True:
    data = os.read(0, 8192)
    if not data:
        break
    s.sendall(data)
s.close()
`;

// Debian's interpreter, not whatever shim PATH offers first (pyenv's adds ~50 ms a start).
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** How long a relay whose input ended may take to send what it holds and exit. */
const RELAY_EXIT_GRACE_MS = 2_000;

export function openStdinRelay(attachSocket: string): Writable {
  const relay = spawn(PYTHON, ['-c', RELAY, attachSocket], { stdio: ['pipe', 'ignore', 'pipe'] });
  // A relay that cannot reach the socket would lose the client's input without a word.
  let failure = '';
  relay.stderr.on('data', (chunk: Buffer) => { if (failure.length < 1024) failure += chunk.toString(); });
  relay.on('close', (code) => {
    if (code === 2) process.stderr.write(`berthd: cannot send stdin to ${attachSocket}: ${failure.trim()}\n`);
  });
  relay.on('error', (error) => process.stderr.write(`berthd: stdin relay: ${error.message}\n`));
  relay.stdin.on('error', () => undefined);
  // Its stdin closed (the session is over): the relay goes, even when conmon stopped reading
  // and the relay is stuck sending.
  relay.stdin.once('close', () => {
    if (relay.exitCode !== null || relay.signalCode !== null) return;
    const timer = setTimeout(() => relay.kill('SIGKILL'), RELAY_EXIT_GRACE_MS);
    timer.unref();
    relay.once('exit', () => clearTimeout(timer));
  });
  return relay.stdin;
}
