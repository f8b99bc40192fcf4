// The auth flow of RegistryClient against a small fake registry and token server on loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { RegistryAuthenticator, TokenCache } from '../../src/distribution/auth.js';
import { RegistryClient, RegistryError } from '../../src/distribution/registry-client.js';

let server: Server;
let base = '';
const tokenRequests: URLSearchParams[] = [];
const tokenAuthorizations: Array<string | undefined> = [];
const issued = new Map<string, string[]>();
let mode: 'bearer' | 'basic' = 'bearer';

function bearerChallenge(scope?: string): string {
  return `Bearer realm="${base}/token",service="fake"${scope ? `,scope="${scope}",error="insufficient_scope"` : ''}`;
}

function handle(request: IncomingMessage): { status: number; headers?: Record<string, string>; body?: string } {
  const url = new URL(request.url ?? '/', base);
  const authorization = request.headers.authorization;
  if (url.pathname === '/token') {
    tokenRequests.push(url.searchParams);
    tokenAuthorizations.push(authorization);
    if (authorization && authorization !== `Basic ${Buffer.from('alice:pw').toString('base64')}`) {
      return { status: 401, body: '{"details":"incorrect username or password"}' };
    }
    const token = `tok-${tokenRequests.length}`;
    issued.set(token, url.searchParams.getAll('scope'));
    return { status: 200, body: JSON.stringify({ token, expires_in: 300, ...(url.searchParams.get('offline_token') ? { refresh_token: 'refresh-1' } : {}) }) };
  }
  if (mode === 'basic') {
    if (authorization !== `Basic ${Buffer.from('alice:pw').toString('base64')}`) return { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="fake"' } };
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: '{}' };
  }
  const scopes = authorization?.startsWith('Bearer ') ? issued.get(authorization.slice(7)) : undefined;
  if (url.pathname === '/v2/') return scopes ? { status: 200, body: '{}' } : { status: 401, headers: { 'WWW-Authenticate': bearerChallenge() } };
  const repository = /^\/v2\/(.+)\/manifests\//.exec(url.pathname)?.[1] ?? '';
  const needed = `repository:${repository}:pull`;
  if (!scopes) return { status: 401, headers: { 'WWW-Authenticate': bearerChallenge(needed) } };
  if (!scopes.includes(needed)) return { status: 401, headers: { 'WWW-Authenticate': bearerChallenge(needed) }, body: '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}' };
  return { status: 200, headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: '{"schemaVersion":2}' };
}

before(async () => {
  server = createServer((request, response) => {
    request.resume();
    const answer = handle(request);
    response.writeHead(answer.status, answer.headers ?? {});
    response.end(answer.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(() => server.close());

const endpoint = () => ({ url: new URL(`${base}/`), insecureTls: true, mirror: false, official: false });

test('Bearer: one token per scope set, fetched with Basic credentials and account, cached across clients', async () => {
  mode = 'bearer';
  tokenRequests.length = 0;
  const tokens = new TokenCache();
  const options = { endpoints: [endpoint()], credentials: { username: 'alice', password: 'pw' }, scopes: ['repository:me/app:pull'], tokens };
  const client = new RegistryClient('127.0.0.1', options);
  await client.ping();
  await client.getManifest('me/app', 'latest');
  await client.getManifest('me/app', 'latest');
  client.close();
  const second = new RegistryClient('127.0.0.1', options);
  await second.ping();
  await second.getManifest('me/app', 'v1');
  second.close();
  assert.equal(tokenRequests.length, 1);
  assert.deepEqual([...tokenRequests[0]!].sort(), [['account', 'alice'], ['scope', 'repository:me/app:pull'], ['service', 'fake']]);
  assert.equal(tokenAuthorizations[0], `Basic ${Buffer.from('alice:pw').toString('base64')}`);
});

test('a 401 asking for a scope not held yet is retried once with that scope; anonymous tokens carry no account', async () => {
  mode = 'bearer';
  tokenRequests.length = 0;
  tokenAuthorizations.length = 0;
  const client = new RegistryClient('127.0.0.1', { endpoints: [endpoint()], scopes: ['repository:me/app:pull'], tokens: new TokenCache() });
  await client.ping();
  const manifest = await client.getManifest('other/repo', 'latest');
  client.close();
  assert.equal(manifest.bytes.toString(), '{"schemaVersion":2}');
  assert.equal(tokenRequests.length, 2);
  assert.deepEqual(tokenRequests[1]!.getAll('scope'), ['repository:me/app:pull', 'repository:other/repo:pull']);
  assert.equal(tokenRequests[1]!.get('account'), null);
  assert.equal(tokenAuthorizations[1], undefined);
});

test('login: offline_token and client_id are sent; the refresh token is kept; a wrong password is the token server\'s 401', async () => {
  mode = 'bearer';
  tokenRequests.length = 0;
  const good = new RegistryClient('127.0.0.1', { endpoints: [endpoint()], credentials: { username: 'alice', password: 'pw' }, offlineAccess: true, tokens: new TokenCache() });
  await good.ping();
  assert.equal(await good.checkAccess(), 200);
  assert.equal(good.refreshToken, 'refresh-1');
  assert.equal(tokenRequests[0]!.get('offline_token'), 'true');
  assert.equal(tokenRequests[0]!.get('client_id'), 'docker');
  good.close();
  const bad = new RegistryClient('127.0.0.1', { endpoints: [endpoint()], credentials: { username: 'alice', password: 'wrong' }, offlineAccess: true, tokens: new TokenCache() });
  await bad.ping();
  await assert.rejects(bad.checkAccess(), (error: unknown) => error instanceof RegistryError && error.status === 401 && error.code === 'UNAUTHORIZED'
    && error.message === `Get "${base}/v2/": unauthorized: incorrect username or password`);
  bad.close();
});

test('Basic: credentials on every request; none at all fails like Docker ("no basic auth credentials")', async () => {
  mode = 'basic';
  const client = new RegistryClient('127.0.0.1', { endpoints: [endpoint()], credentials: { username: 'alice', password: 'pw' } });
  await client.ping();
  assert.equal(await client.checkAccess(), 200);
  client.close();
  const anonymous = new RegistryClient('127.0.0.1', { endpoints: [endpoint()] });
  await anonymous.ping();
  await assert.rejects(anonymous.getManifest('me/app', 'latest'), { message: `Get "${base}/v2/me/app/manifests/latest": no basic auth credentials` });
  anonymous.close();
  const wrong = new RegistryClient('127.0.0.1', { endpoints: [endpoint()], credentials: { username: 'alice', password: 'nope' } });
  await wrong.ping();
  assert.equal(await wrong.checkAccess(), 401);
  wrong.close();
});

test('ping falls back from HTTPS to plain HTTP for an insecure registry, and says why when nothing else is left', async () => {
  mode = 'basic';
  const port = new URL(base).port;
  const https = { url: new URL(`https://127.0.0.1:${port}/`), insecureTls: true, mirror: false, official: false };
  const client = new RegistryClient('127.0.0.1', { endpoints: [https, endpoint()], credentials: { username: 'alice', password: 'pw' } });
  await client.ping();
  assert.equal(client.baseUrl.href, `${base}/`);
  assert.equal(await client.checkAccess(), 200);
  client.close();
  const onlyHttps = new RegistryClient('127.0.0.1', { endpoints: [https] });
  await assert.rejects(onlyHttps.ping(), { message: `Get "https://127.0.0.1:${port}/v2/": http: server gave HTTP response to HTTPS client` });
  onlyHttps.close();
});

test('a cross-repository mount (?from=) also asks for pull on the source repository', async () => {
  mode = 'bearer';
  tokenRequests.length = 0;
  const authenticator = new RegistryAuthenticator({ scopes: ['repository:me/app:pull,push'], tokens: new TokenCache() });
  authenticator.observe(bearerChallenge());
  const header = await authenticator.authorize(new URL(`${base}/v2/me/app/blobs/uploads/?mount=sha256:ab&from=library/busybox`));
  assert.match(header ?? '', /^Bearer tok-/);
  assert.deepEqual(tokenRequests[0]!.getAll('scope'), ['repository:library/busybox:pull', 'repository:me/app:pull,push']);
});
