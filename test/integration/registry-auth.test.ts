// Registry authentication against real registries (Debian's docker-registry on loopback): one
// with htpasswd Basic auth, one with Bearer tokens from this file's own token server (JWTs
// signed with a key made by openssl), and an open one serving as a Docker Hub mirror.
// berth login/logout/push/pull/search, and the docker CLI's login + push + search through berthd.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { sleep, TestDaemon, useDaemon, type CommandResult, freePort } from './harness.js';

const daemon = useDaemon();
const USER = 'alice';
const PASSWORD = 's3cret';
const dir = mkdtempSync('/tmp/berth-registry-auth-');
const berthConfig = join(dir, 'berth-config');
const registries: ChildProcess[] = [];
const logs = new Map<number, string>();
let tokenServer: Server | undefined;
let basicPort = 0;
let tokenPort = 0;
let mirrorPort = 0;


/** Starts docker-registry on a free port with extra config lines; its access log is kept. */
async function startRegistry(name: string, extra: string[]): Promise<number> {
  const port = await freePort();
  const config = join(dir, `${name}.yml`);
  writeFileSync(config, ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, name)}`,
    'http:', `  addr: 127.0.0.1:${port}`, ...extra, ''].join('\n'));
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  logs.set(port, '');
  const keep = (chunk: Buffer) => logs.set(port, logs.get(port) + chunk.toString());
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  registries.push(child);
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://127.0.0.1:${port}/v2/`).then(() => true, () => false)) return port;
    await sleep(50);
  }
  throw new Error(`docker-registry ${name} did not start: ${logs.get(port)}`);
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A token server as the distribution spec describes it: Basic or refresh-token credentials in, signed JWT out. */
function startTokenServer(port: number, key: string, certDer: Buffer): Promise<void> {
  const refreshTokens = new Map<string, string>();
  const issue = (user: string | undefined, scopes: string[], offline: boolean) => {
    const access = user === undefined ? [] : scopes.map((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }));
    const claims = base64url(JSON.stringify({ iss: 'berth-test-issuer', sub: user ?? '', aud: 'berth-test', exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const token = `${header}.${claims}.${base64url(sign('sha256', Buffer.from(`${header}.${claims}`), key))}`;
    const answer: Record<string, unknown> = { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() };
    if (offline && user !== undefined) {
      const refresh = randomUUID();
      refreshTokens.set(refresh, user);
      answer.refresh_token = refresh;
    }
    return answer;
  };
  const handle = async (request: IncomingMessage): Promise<[number, unknown]> => {
    const url = new URL(request.url ?? '/', 'http://token');
    if (request.method === 'POST') {
      let body = '';
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const user = refreshTokens.get(form.get('refresh_token') ?? '');
      if (form.get('grant_type') !== 'refresh_token' || user === undefined) return [401, { details: 'invalid refresh token' }];
      return [200, issue(user, (form.get('scope') ?? '').split(' ').filter(Boolean), false)];
    }
    const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (basic !== undefined && Buffer.from(basic, 'base64').toString() !== `${USER}:${PASSWORD}`) return [401, { details: 'incorrect username or password' }];
    return [200, issue(basic === undefined ? undefined : USER, url.searchParams.getAll('scope'), url.searchParams.get('offline_token') === 'true')];
  };
  tokenServer = createHttpServer((request, response) => {
    handle(request).then(([status, body]) => {
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    }, () => response.writeHead(500).end());
  });
  return new Promise((resolve) => tokenServer!.listen(port, '127.0.0.1', resolve));
}

before(async () => {
  const htpasswd = execFileSync('python3', ['-W', 'ignore', '-c',
    `import crypt; print("${USER}:" + crypt.crypt("${PASSWORD}", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))`]).toString();
  writeFileSync(join(dir, 'htpasswd'), htpasswd);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'token.key'), '-out', join(dir, 'token.crt'),
    '-days', '2', '-subj', '/CN=berth-test-token'], { stdio: 'ignore' });
  const certDer = Buffer.from(readFileSync(join(dir, 'token.crt'), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const tokenServerPort = await freePort();
  await startTokenServer(tokenServerPort, readFileSync(join(dir, 'token.key'), 'utf8'), certDer);
  basicPort = await startRegistry('basic', ['auth:', '  htpasswd:', '    realm: berth-test', `    path: ${join(dir, 'htpasswd')}`]);
  tokenPort = await startRegistry('token', ['auth:', '  token:', `    realm: http://127.0.0.1:${tokenServerPort}/token`, '    service: berth-test',
    '    issuer: berth-test-issuer', `    rootcertbundle: ${join(dir, 'token.crt')}`]);
  mirrorPort = await startRegistry('mirror', []);
});

after(() => {
  for (const child of registries) child.kill('SIGKILL');
  tokenServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** berth with this file's client config directory, never the user's ~/.berth. */
function berth(args: string[], input?: string): Promise<CommandResult> {
  return daemon.berth(args, { input, env: { BERTH_CONFIG: berthConfig } });
}

function storedAuths(): Record<string, { auth?: string; identitytoken?: string }> {
  const path = join(berthConfig, 'config.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { auths?: Record<string, { auth?: string }> }).auths ?? {} : {};
}

test('basic auth: a wrong password is refused as Docker words it; login stores the credentials; push and pull use them; logout forgets them', async () => {
  const registry = `127.0.0.1:${basicPort}`;
  const image = `${registry}/me/busybox`;
  await daemon.berthOk(['tag', 'busybox', image]);
  const anonymous = await berth(['push', image]);
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, new RegExp(`Head "http://${registry}/v2/me/busybox/blobs/sha256:[0-9a-f]{64}": no basic auth credentials`));

  const wrong = await berth(['login', registry, '-u', USER, '-p', 'wrong']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^WARNING! Using --password via the CLI is insecure\. Use --password-stdin\.\n/);
  assert.match(wrong.stderr, new RegExp(`Error response from daemon: login attempt to http://${registry}/v2/ failed with status: 401 Unauthorized\n$`));
  assert.deepEqual(storedAuths(), {});
  const api = await daemon.api('POST', '/auth', { username: USER, password: 'wrong', serveraddress: registry });
  assert.equal(api.status, 500);

  const login = await berth(['login', `http://${registry}/`, '-u', USER, '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(login.code, 0, login.stderr + daemon.log);
  assert.equal(login.stdout, 'Login Succeeded\n');
  assert.match(login.stderr, new RegExp(`WARNING! Your credentials are stored unencrypted in '${berthConfig}/config.json'`));
  assert.deepEqual(storedAuths()[registry], { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') });

  const pushed = await berth(['push', image]);
  assert.equal(pushed.code, 0, pushed.stderr + daemon.log);
  assert.match(pushed.stdout, /latest: digest: sha256:[0-9a-f]{64}/);
  await daemon.berthOk(['rmi', image]);
  const pulled = await berth(['pull', image]);
  assert.equal(pulled.code, 0, pulled.stderr + daemon.log);
  assert.match(pulled.stdout, /Status: Downloaded newer image/);

  const logout = await berth(['logout', registry]);
  assert.equal(logout.stdout, `Removing login credentials for ${registry}\n`);
  assert.deepEqual(storedAuths(), {});
  assert.equal((await berth(['pull', image])).code, 1);
});

test('bearer tokens: login checks the password at the token server; push and pull with the identity token; anonymous pulls are refused', async () => {
  const registry = `127.0.0.1:${tokenPort}`;
  const image = `${registry}/me/busybox`;
  const wrong = await berth(['login', registry, '-u', USER, '--password-stdin'], 'wrong\n');
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr, `Error response from daemon: Get "http://${registry}/v2/": unauthorized: incorrect username or password\n`);
  const api = await daemon.api('POST', '/auth', { username: USER, password: 'wrong', serveraddress: registry });
  assert.equal(api.status, 401);

  const ok = await daemon.api('POST', '/auth', { username: USER, password: PASSWORD, serveraddress: registry });
  assert.equal(ok.status, 200);
  const answer = ok.json() as { Status: string; IdentityToken: string };
  assert.equal(answer.Status, 'Login Succeeded');
  assert.match(answer.IdentityToken, /^[0-9a-f-]{36}$/, 'the token server\'s refresh token comes back as the identity token');

  const login = await berth(['login', registry, '-u', USER, '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(login.code, 0, login.stderr + daemon.log);
  assert.equal(login.stdout, 'Login Succeeded\n');
  assert.doesNotMatch(login.stderr, /unencrypted/, 'an identity token replaces the password');
  const stored = storedAuths()[registry];
  assert.equal(stored?.auth, Buffer.from(`${USER}:`).toString('base64'));
  assert.match(stored?.identitytoken ?? '', /^[0-9a-f-]{36}$/);

  await daemon.berthOk(['tag', 'busybox', image]);
  const pushed = await berth(['push', image]);
  assert.equal(pushed.code, 0, pushed.stderr + daemon.log);
  await daemon.berthOk(['rmi', image]);
  const pulled = await berth(['pull', image]);
  assert.equal(pulled.code, 0, pulled.stderr + daemon.log);

  await berth(['logout', registry]);
  const denied = await berth(['pull', `${registry}/me/busybox:latest`]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /Error response from daemon: unauthorized: authentication required/);
});

test('the docker CLI logs in through berthd and pushes with the credentials it stored (X-Registry-Auth)', async () => {
  for (const port of [basicPort, tokenPort]) {
    const registry = `127.0.0.1:${port}`;
    const login = await daemon.docker(['login', registry, '-u', USER, '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(login.code, 0, login.stderr + daemon.log);
    assert.match(login.stdout, /Login Succeeded/);
    await daemon.dockerOk(['tag', 'busybox', `${registry}/docker/busybox:v1`]);
    const pushed = await daemon.docker(['push', `${registry}/docker/busybox:v1`]);
    assert.equal(pushed.code, 0, pushed.stderr + daemon.log);
    assert.match(pushed.stdout, /v1: digest: sha256:[0-9a-f]{64} size: \d+/);
    const wrong = await daemon.docker(['login', registry, '-u', USER, '--password-stdin'], { input: 'wrong\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, port === basicPort ? /Error response from daemon: login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized/
      : /Error response from daemon: Get "http:\/\/127\.0\.0\.1:\d+\/v2\/": unauthorized: incorrect username or password/);
  }
});

test('search lists a registry\'s catalog in docker\'s table, for berth and the docker CLI', async () => {
  const registry = `127.0.0.1:${tokenPort}`;
  await daemon.docker(['login', registry, '-u', USER, '--password-stdin'], { input: `${PASSWORD}\n` });
  const viaDocker = await daemon.docker(['search', `${registry}/docker`]);
  assert.equal(viaDocker.code, 0, viaDocker.stderr + daemon.log);
  assert.match(viaDocker.stdout, /^NAME +DESCRIPTION +STARS +OFFICIAL\n127\.0\.0\.1:\d+\/docker\/busybox +0 +\n$/);
  const expected = viaDocker.stdout;

  assert.equal((await berth(['login', registry, '-u', USER, '--password-stdin'], `${PASSWORD}\n`)).code, 0);
  const viaBerth = await berth(['search', `${registry}/docker`]);
  assert.equal(viaBerth.stdout, expected, viaBerth.stderr);
  const all = await berth(['search', '--format', '{{.Name}}', `${registry}/`]);
  assert.equal(all.stdout, `${registry}/docker/busybox\n${registry}/me/busybox\n`);
  assert.equal((await berth(['search', '--limit', '1', '--format', '{{.Name}}', `${registry}/`])).stdout, `${registry}/docker/busybox\n`);
  assert.equal((await berth(['search', '--filter', 'stars=1', '--format', '{{.Name}}', `${registry}/`])).stdout, '');
  const badFilter = await berth(['search', '--filter', 'color=red', `${registry}/`]);
  assert.equal(badFilter.stderr, 'Error response from daemon: invalid filter \'color\'\n');
  const badLimit = await daemon.api('GET', `/images/search?term=${registry}/&limit=101`);
  assert.deepEqual([badLimit.status, badLimit.json()], [400, { message: 'limit 101 is outside the range of [1, 100]' }]);
  await berth(['logout', registry]);
});

test('registry-mirrors: a docker.io pull goes to the mirrors in order (a dead one is skipped), never to Docker Hub', async (t) => {
  const mirror = `127.0.0.1:${mirrorPort}`;
  await daemon.berthOk(['tag', 'busybox', `${mirror}/library/busybox:latest`]);
  await daemon.berthOk(['push', `${mirror}/library/busybox:latest`]);
  const mirrored = new TestDaemon(['--registry-mirror', `http://127.0.0.1:${await freePort()}`, '--registry-mirror', `http://${mirror}`]);
  t.after(() => mirrored.cleanup());
  await mirrored.start();
  const pulled = await mirrored.berth(['pull', 'busybox'], { env: { BERTH_CONFIG: berthConfig } });
  assert.equal(pulled.code, 0, pulled.stderr + mirrored.log);
  assert.match(pulled.stdout, /latest: Pulling from library\/busybox\n/);
  assert.match(pulled.stdout, /Status: Downloaded newer image for busybox:latest\ndocker\.io\/library\/busybox:latest\n$/);
  assert.match(logs.get(mirrorPort) ?? '', /"GET \/v2\/library\/busybox\/manifests\/latest HTTP\/1\.1" 200/);
  const inspect = (await mirrored.api('GET', '/images/busybox/json')).json() as { RepoTags: string[]; RepoDigests: string[] };
  assert.deepEqual(inspect.RepoTags, ['busybox:latest']);
  assert.match(inspect.RepoDigests[0] ?? '', /^busybox@sha256:/);
  const run = await mirrored.berth(['run', '--rm', 'busybox', 'echo', 'from the mirror']);
  assert.equal(run.stdout, 'from the mirror\n', run.stderr);
});
