// The remote API (issue 14): berthd on tcp://127.0.0.1 with mutual TLS, driven by berth and by
// the real docker CLI (version, run, exec -it through a terminal, attach over a websocket);
// clients without a certificate, or with one from another CA, refused at the handshake (curl
// gets nothing); server-only TLS; resets mid-handshake and mid-stream leave berthd serving;
// plain TCP on a non-loopback address refused; fd:// socket activation; the unix socket's mode
// and group; contexts (create, use, ls, rm, DOCKER_CONTEXT, -c) read by both CLIs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { BERTH, BERTH_ARGV, BERTHD, freePort, processAlive, runCommand, sleep, TestDaemon, type CommandResult } from './harness.js';
import { makeCertificates, type CertificateSet } from './tls-certs.js';
import { Terminal } from './terminal.js';

const scratch = mkdtempSync('/tmp/berth-tls-');
after(() => rmSync(scratch, { recursive: true, force: true }));
const certs: CertificateSet = makeCertificates(join(scratch, 'ca'));
const otherCa: CertificateSet = makeCertificates(join(scratch, 'other'), 'another');
// A client's environment without whatever the test runner's shell points at.
const cleanEnv = { DOCKER_HOST: '', BERTH_HOST: '', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '', DOCKER_CONTEXT: '', DOCKER_CLI_HINTS: 'false' };

function berth(args: string[], env: Record<string, string> = {}, configDir = join(scratch, 'berth-config')): Promise<CommandResult> {
  return runCommand(BERTH_ARGV[0]!, [...BERTH_ARGV.slice(1), ...args], { env: { ...cleanEnv, BERTH_CONFIG: configDir, ...env }, timeoutMs: 30_000 });
}

function docker(args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return runCommand('docker', args, { env: { ...cleanEnv, DOCKER_CONFIG: join(scratch, 'docker-config'), ...env }, timeoutMs: 30_000 });
}

function mutualFlags(set: CertificateSet = certs): string[] {
  return ['--tlsverify', '--tlscacert', set.ca, '--tlscert', set.clientCert, '--tlskey', set.clientKey];
}

function curl(port: number, extra: string[]): Promise<CommandResult> {
  return runCommand('curl', ['-sS', '--max-time', '5', ...extra, `https://127.0.0.1:${port}/_ping`], { timeoutMs: 10_000 });
}

describe('mutual TLS', () => {
  let daemon: TestDaemon;
  let port: number;
  let tcp: string;
  before(async () => {
    port = await freePort();
    tcp = `tcp://127.0.0.1:${port}`;
    daemon = new TestDaemon(['-H', tcp, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey]);
    await daemon.start();
    await daemon.importBusybox();
  });
  after(() => daemon.cleanup());

  test('berth reaches it with flags and with DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async () => {
    const withFlags = await berth([...mutualFlags(), '-H', tcp, 'run', '--rm', 'busybox', 'echo', 'over-tls']);
    assert.equal(withFlags.code, 0, withFlags.stderr);
    assert.equal(withFlags.stdout, 'over-tls\n');
    const certDir = join(scratch, 'cert-path');
    mkdirSync(certDir, { recursive: true });
    copyFileSync(certs.ca, join(certDir, 'ca.pem'));
    copyFileSync(certs.clientCert, join(certDir, 'cert.pem'));
    copyFileSync(certs.clientKey, join(certDir, 'key.pem'));
    const fromEnv = await berth(['version', '--format', '{{.Server.Version}}'], { DOCKER_HOST: tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /^\d+\.\d+\.\d+/);
    // The default certificate folder is the config dir, as ~/.docker is docker's.
    const fromConfigDir = await berth(['--tlsverify', '-H', tcp, 'info', '--format', '{{.Containers}}'], {}, certDir);
    assert.equal(fromConfigDir.code, 0, fromConfigDir.stderr);
  });

  test('the docker CLI: version, run, and exec -it in a terminal', async () => {
    const version = await docker([...mutualFlags(), '-H', tcp, 'version', '--format', '{{.Server.Version}}']);
    assert.equal(version.code, 0, version.stderr);
    const run = await docker([...mutualFlags(), '-H', tcp, 'run', '--rm', 'busybox', 'sh', '-c', 'echo from-docker']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'from-docker\n');
    const started = await docker([...mutualFlags(), '-H', tcp, 'run', '-d', '--name', 'tls-exec', 'busybox', 'sleep', '300']);
    assert.equal(started.code, 0, started.stderr);
    const terminal = new Terminal(`DOCKER_CONFIG=${join(scratch, 'docker-config')} DOCKER_HOST= docker ${mutualFlags().join(' ')} -H ${tcp} exec -it tls-exec sh`);
    try {
      await terminal.waitFor(/\/ # $/m);
      terminal.type('echo typed-$((6*7))');
      terminal.press('Enter');
      await terminal.waitFor(/^typed-42$/m);
      terminal.type('exit');
      terminal.press('Enter');
      await terminal.waitFor(/\[exit 0\]/);
    } finally {
      terminal.close();
    }
    const removed = await docker([...mutualFlags(), '-H', tcp, 'rm', '-f', 'tls-exec']);
    assert.equal(removed.code, 0, removed.stderr);
  });

  test('attach over a websocket (wss) with a client certificate', async () => {
    const { WebSocket } = await import('ws');
    const created = await berth([...mutualFlags(), '-H', tcp, 'run', '-d', 'busybox', 'sh', '-c', 'sleep 1; echo ws-hello; sleep 30']);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    const socket = new WebSocket(`wss://127.0.0.1:${port}/v1.43/containers/${id}/attach/ws?stream=1&stdout=1`, {
      ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey),
    });
    let received = '';
    socket.on('message', (data: Buffer) => { received += data.toString(); });
    const opened = await new Promise<boolean>((resolve) => { socket.once('open', () => resolve(true)); socket.once('error', () => resolve(false)); });
    assert.ok(opened, 'the websocket opened');
    const deadline = Date.now() + 10_000;
    while (!received.includes('ws-hello') && Date.now() < deadline) await sleep(100);
    socket.terminate();
    assert.match(received, /ws-hello/);
    await berth([...mutualFlags(), '-H', tcp, 'rm', '-f', id]);
  });

  test('clients without a certificate, or with one from another CA, are refused at the handshake', async () => {
    const noCert = await docker(['--tlsverify', '--tlscacert', certs.ca, '-H', tcp, 'version', '--format', '{{.Server.Version}}']);
    assert.notEqual(noCert.code, 0);
    assert.equal(noCert.stdout.trim(), '');
    assert.match(noCert.stderr, /certificate required|bad certificate|handshake/i);
    const curlNoCert = await curl(port, ['--cacert', certs.ca]);
    assert.notEqual(curlNoCert.code, 0);
    assert.equal(curlNoCert.stdout, '');
    const curlInsecure = await curl(port, ['-k']);
    assert.notEqual(curlInsecure.code, 0);
    assert.equal(curlInsecure.stdout, '');
    // Plain HTTP gets Go's answer, as from dockerd, and reaches no route.
    const curlPlain = await runCommand('curl', ['-sS', '--max-time', '5', '-w', '%{http_code}', `http://127.0.0.1:${port}/_ping`], { timeoutMs: 10_000 });
    assert.equal(curlPlain.stdout, 'Client sent an HTTP request to an HTTPS server.\n400');
    for (const client of [docker, berth]) {
      const plain = await client(['-H', tcp, 'version', '--format', '{{.Server.Version}}']);
      assert.notEqual(plain.code, 0);
      assert.equal(plain.stdout.trim(), '');
      assert.match(plain.stderr, /Client sent an HTTP request to an HTTPS server/);
    }
    // A certificate from another CA: refused by the daemon even when the client trusts the daemon.
    const foreign = ['--tlsverify', '--tlscacert', certs.ca, '--tlscert', otherCa.clientCert, '--tlskey', otherCa.clientKey, '-H', tcp];
    const berthForeign = await berth([...foreign, 'ps']);
    assert.notEqual(berthForeign.code, 0);
    assert.equal(berthForeign.stdout, '');
    const dockerForeign = await docker([...foreign, 'ps']);
    assert.notEqual(dockerForeign.code, 0);
    const curlForeign = await curl(port, ['--cacert', certs.ca, '--cert', otherCa.clientCert, '--key', otherCa.clientKey]);
    assert.notEqual(curlForeign.code, 0);
    assert.equal(curlForeign.stdout, '');
    // And the client checks the daemon: trusting only the other CA fails.
    const wrongCa = await berth(['--tlsverify', '--tlscacert', otherCa.ca, '--tlscert', certs.clientCert, '--tlskey', certs.clientKey, '-H', tcp, 'ps']);
    assert.notEqual(wrongCa.code, 0);
    assert.match(wrongCa.stderr, /error during connect/);
    const ok = await curl(port, ['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey]);
    assert.equal(ok.stdout, 'OK');
  });

  test('resets mid-handshake and mid-stream do not end berthd', async () => {
    const rawSocket = async () => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      return socket;
    };
    // Half a ClientHello, then a reset.
    for (let round = 0; round < 5; round++) {
      const socket = await rawSocket();
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
      await sleep(20);
      socket.resetAndDestroy();
    }
    // A handshake abandoned halfway, without a certificate.
    const half = connectTls({ host: '127.0.0.1', port, ca: readFileSync(certs.ca), servername: 'localhost' });
    half.on('error', () => undefined);
    await sleep(50);
    half.destroy();
    // Authenticated streams (events; a hijacked attach) cut mid-stream.
    const tls = { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    const eventsRaw = await rawSocket();
    const events = httpsRequest({ host: '127.0.0.1', port, path: '/v1.43/events', ...tls, createConnection: () => connectTls({ socket: eventsRaw, servername: 'localhost', ...tls }) });
    events.on('error', () => undefined);
    await new Promise<void>((resolve) => { events.on('response', (res) => { res.on('error', () => undefined); resolve(); }); events.end(); });
    eventsRaw.resetAndDestroy();
    const run = await berth([...mutualFlags(), '-H', tcp, 'run', '-d', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.1; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const attachRaw = await rawSocket();
    const attach = connectTls({ socket: attachRaw, servername: 'localhost', ...tls });
    attach.on('error', () => undefined);
    await new Promise((resolve) => attach.once('secureConnect', resolve));
    attach.write(`POST /v1.43/containers/${id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    let seen = '';
    attach.on('data', (chunk: Buffer) => { seen += chunk.toString('latin1'); });
    const deadline = Date.now() + 10_000;
    while (!seen.includes('tick') && Date.now() < deadline) await sleep(50);
    assert.match(seen, /101 UPGRADED[\s\S]*tick/);
    attachRaw.resetAndDestroy();
    await sleep(200);
    assert.ok(daemon.pid !== undefined && processAlive(daemon.pid), `berthd is still running:\n${daemon.log}`);
    const ping = await curl(port, ['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey]);
    assert.equal(ping.stdout, 'OK');
    await berth([...mutualFlags(), '-H', tcp, 'rm', '-f', id]);
  });

  test('contexts: create, use, ls, inspect, show, rm, DOCKER_CONTEXT and -c; docker reads them too', async () => {
    const config = join(scratch, 'contexts');
    const created = await berth(['context', 'create', 'remote', '--description', 'the TLS daemon',
      '--docker', `host=${tcp},ca=${certs.ca},cert=${certs.clientCert},key=${certs.clientKey}`], {}, config);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'remote\n');
    assert.equal(created.stderr, 'Successfully created context "remote"\n');
    const again = await berth(['context', 'create', 'remote', '--docker', `host=${tcp}`], {}, config);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /context "remote" already exists/);
    const byFlag = await berth(['-c', 'remote', 'version', '--format', '{{.Client.Context}} {{.Server.Version}}'], {}, config);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.match(byFlag.stdout, /^remote \d/);
    const byEnv = await berth(['info', '--format', '{{.Name}}'], { DOCKER_CONTEXT: 'remote' }, config);
    assert.equal(byEnv.code, 0, byEnv.stderr);
    const conflict = await berth(['-c', 'remote', '-H', tcp, 'ps'], {}, config);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /conflicting options: either specify --host or --context, not both/);
    const use = await berth(['context', 'use', 'remote'], {}, config);
    assert.equal(use.code, 0, use.stderr);
    assert.equal(use.stderr, 'Current context is now "remote"\n');
    const ps = await berth(['ps', '-a', '--format', '{{.ID}}'], {}, config);
    assert.equal(ps.code, 0, ps.stderr);
    const list = await berth(['context', 'ls'], {}, config);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME +DESCRIPTION +DOCKER ENDPOINT +ERROR\n/);
    assert.match(list.stdout, /^default +Current DOCKER_HOST based configuration +unix:\/\/\/run\/berth\/berth\.sock/m);
    assert.match(list.stdout, new RegExp(`^remote \\* +the TLS daemon +tcp://127\\.0\\.0\\.1:${port}`, 'm'));
    assert.equal((await berth(['context', 'show'], {}, config)).stdout, 'remote\n');
    const inspect = await berth(['context', 'inspect'], {}, config);
    const [view] = JSON.parse(inspect.stdout) as Array<{ Name: string; Endpoints: { docker: { Host: string } }; TLSMaterial: { docker: string[] } }>;
    assert.equal(view!.Name, 'remote');
    assert.equal(view!.Endpoints.docker.Host, tcp);
    assert.deepEqual(view!.TLSMaterial.docker, ['ca.pem', 'cert.pem', 'key.pem']);
    // The store is docker's: the docker CLI pointed at berth's config dir uses the same context.
    const dockerUses = await docker(['version', '--format', '{{.Server.Version}}'], { DOCKER_CONFIG: config });
    assert.equal(dockerUses.code, 0, dockerUses.stderr);
    const dockerList = await docker(['context', 'ls', '--format', '{{.Name}}{{if .Current}}*{{end}}'], { DOCKER_CONFIG: config });
    assert.deepEqual(dockerList.stdout.trim().split('\n'), ['default', 'remote*']);
    // DOCKER_HOST wins over the current context, as docker's.
    const overridden = await berth(['version', '--format', '{{.Client.Context}}'], { DOCKER_HOST: 'unix:///nonexistent.sock' }, config);
    assert.match(overridden.stdout, /^default/);
    const inUse = await berth(['context', 'rm', 'remote'], {}, config);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /context "remote" is in use, set -f flag to force remove/);
    assert.equal((await berth(['context', 'use', 'default'], {}, config)).code, 0);
    const updated = await berth(['context', 'update', 'remote', '--description', 'renamed'], {}, config);
    assert.equal(updated.code, 0, updated.stderr);
    const removed = await berth(['context', 'rm', 'remote'], {}, config);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'remote\n');
    const gone = await berth(['-c', 'remote', 'ps'], {}, config);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /context "remote": context not found/);
    assert.equal((await berth(['context', 'rm', 'default'], {}, config)).stderr, 'context "default" cannot be removed\n');
  });
});

describe('server-only TLS, socket activation, socket permissions', () => {
  test('--tls --tlsverify=false: clients use --tls (no certificate) or verify the server with the CA', async () => {
    const port = await freePort();
    const tcp = `tcp://127.0.0.1:${port}`;
    const group = readFileSync('/etc/group', 'utf8').split('\n').map((line) => line.split(':')).find((fields) => fields[0] !== 'root' && fields[0] !== 'berth' && /^[1-9]\d*$/.test(fields[2] ?? ''));
    assert.ok(group, 'a group to give the socket');
    const daemon = new TestDaemon(['-H', tcp, '--tls', '--tlsverify=false', '--tlscert', certs.serverCert, '--tlskey', certs.serverKey, '--group', group[0]!]);
    try {
      await daemon.start();
      const socket = statSync(daemon.socket);
      assert.equal(socket.mode & 0o777, 0o660);
      assert.equal(socket.gid, Number(group[2]));
      const berthTls = await berth(['--tls', '-H', tcp, 'version', '--format', '{{.Server.Version}}']);
      assert.equal(berthTls.code, 0, berthTls.stderr);
      const berthVerify = await berth(['--tlsverify', '--tlscacert', certs.ca, '-H', tcp, 'info', '--format', '{{.Name}}']);
      assert.equal(berthVerify.code, 0, berthVerify.stderr);
      // Verified against the default roots (no CA given, none in the config dir), which hold the
      // CA through NODE_EXTRA_CA_CERTS: dist/berth keeps node from parsing that file at start, so
      // the CLI adds it itself; node dist/berth.js leaves it to node.
      const noCaConfig = join(scratch, 'no-ca-config');
      mkdirSync(noCaConfig, { recursive: true });
      for (const argv of [BERTH_ARGV, [process.execPath, BERTH]]) {
        const trusted = await runCommand(argv[0]!, [...argv.slice(1), '--tlsverify', '-H', tcp, 'version', '--format', '{{.Server.Version}}'],
          { env: { ...cleanEnv, BERTH_CONFIG: noCaConfig, NODE_EXTRA_CA_CERTS: certs.ca }, timeoutMs: 30_000 });
        assert.equal(trusted.code, 0, `${argv.join(' ')}: ${trusted.stderr}`);
      }
      const untrusted = await berth(['--tlsverify', '-H', tcp, 'version', '--format', '{{.Server.Version}}'], { NODE_EXTRA_CA_CERTS: '' }, noCaConfig);
      assert.notEqual(untrusted.code, 0);
      assert.match(untrusted.stderr, /certificate/);
      // The docker CLI reads the CA file (its default, ~/.docker/ca.pem, must exist) even when it does not verify.
      const dockerTls = await docker(['--tls', '--tlscacert', otherCa.ca, '-H', tcp, 'version', '--format', '{{.Server.Version}}']);
      assert.equal(dockerTls.code, 0, dockerTls.stderr);
      const curlOk = await curl(port, ['--cacert', certs.ca]);
      assert.equal(curlOk.stdout, 'OK');
      // Plain HTTP to a TLS socket gets nothing.
      const plain = await berth(['-H', tcp, 'ps']);
      assert.notEqual(plain.code, 0);
      assert.match(daemon.log, /Binding to IP address without --tlsverify is insecure/);
    } finally {
      await daemon.cleanup();
    }
  });

  test('fd:// serves the socket passed as fd 3 (LISTEN_FDS, LISTEN_PID), and is refused without one', async () => {
    const port = await freePort();
    // A tiny systemd: bind, listen, hand the socket over as fd 3 and exec berthd with LISTEN_PID set to itself.
    const wrapper = ['python3', '-c', [
      'import os, socket, sys',
      `s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", ${port})); s.listen(16)`,
      'fd = s.detach()',
      'if fd != 3: os.dup2(fd, 3); os.close(fd)',
      'os.set_inheritable(3, True)',
      'os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))',
      'os.execvp(sys.argv[1], sys.argv[1:])',
    ].join('\n')];
    const daemon = new TestDaemon(['-H', 'fd://'], { launch: { wrapper } });
    try {
      await daemon.start();
      const ping = await berth(['-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.Version}}']);
      assert.equal(ping.code, 0, ping.stderr);
      assert.match(daemon.log, /listening on .*fd:\/\//);
    } finally {
      await daemon.cleanup();
    }
    const root = join(scratch, 'no-fds');
    const refused = await runCommand(process.execPath, [BERTHD, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'pid'), '-H', 'fd://'], { timeoutMs: 20_000 });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no sockets found via socket activation: make sure the service was started by systemd/);
  });

  test('plain TCP on a non-loopback address is refused without an explicit --tls=false, with Docker\'s warning', async () => {
    const port = await freePort();
    const root = join(scratch, 'refused');
    const refused = await runCommand(process.execPath, [BERTHD, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'),
      '--pidfile', join(root, 'pid'), '-H', `tcp://0.0.0.0:${port}`], { timeoutMs: 20_000 });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network/);
    assert.match(refused.stderr, /refusing to listen on tcp:\/\/0\.0\.0\.0:\d+ without --tlsverify/);
    assert.match(refused.stderr, /--tls=false/);
    // Nothing was made: the check comes before the data root.
    assert.throws(() => statSync(join(root, 'data')));
  });

  test('the default unix socket group (berth) is used only when it exists; root otherwise', async (t) => {
    if (readFileSync('/etc/group', 'utf8').split('\n').some((line) => line.startsWith('berth:'))) {
      t.skip('this host has a berth group');
      return;
    }
    const daemon = new TestDaemon();
    try {
      await daemon.start();
      const socket = statSync(daemon.socket);
      assert.equal(socket.mode & 0o777, 0o660);
      assert.equal(socket.uid, 0);
      assert.equal(socket.gid, 0);
      assert.match(daemon.log, /could not change group of the socket to berth: group berth not found/);
    } finally {
      await daemon.cleanup();
    }
    const root = join(scratch, 'no-group');
    const unknown = await runCommand(process.execPath, [BERTHD, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'),
      '--pidfile', join(root, 'pid'), '-H', `unix://${join(root, 's.sock')}`, '--group', 'no-such-group-here'], { timeoutMs: 20_000 });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /group no-such-group-here not found/);
  });
});
