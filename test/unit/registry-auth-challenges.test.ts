import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRegistryAuth, normalizeAuthConfig, parseChallenges, parseTokenResponse, repositoryScope, TokenCache, tokenErrorMessage,
} from '../../src/distribution/auth.js';
import { encodeAuthHeader } from '../../src/cli/credentials.js';

test('WWW-Authenticate: Bearer with quoted parameters, Basic, several challenges in one header', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'), [
    { scheme: 'bearer', parameters: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="basic-realm"'), [{ scheme: 'basic', parameters: { realm: 'basic-realm' } }]);
  assert.deepEqual(parseChallenges(['Basic realm="a \\"quoted\\" realm", Bearer realm=https://t/token , error=insufficient_scope']), [
    { scheme: 'basic', parameters: { realm: 'a "quoted" realm' } },
    { scheme: 'bearer', parameters: { realm: 'https://t/token', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
});

test('X-Registry-Auth: padded base64url JSON both ways; field names match case-insensitively; junk is no credentials', () => {
  const config = { username: 'alice', password: 's3cret?>>', serveraddress: '127.0.0.1:5000' };
  const header = encodeAuthHeader(config);
  assert.equal(header.length % 4, 0);
  assert.doesNotMatch(header, /[+/]/);
  assert.deepEqual(decodeRegistryAuth(header), config);
  assert.deepEqual(decodeRegistryAuth(Buffer.from('{"Username":"bob","Password":"pw","IdentityToken":"tok"}').toString('base64')), {
    username: 'bob', password: 'pw', identitytoken: 'tok',
  });
  assert.deepEqual(decodeRegistryAuth('e30'), {});
  assert.deepEqual(decodeRegistryAuth('!!!not base64 json'), {});
  assert.deepEqual(decodeRegistryAuth(undefined), {});
  assert.deepEqual(normalizeAuthConfig({ auth: Buffer.from('carol:pa:ss').toString('base64') }), {
    auth: Buffer.from('carol:pa:ss').toString('base64'), username: 'carol', password: 'pa:ss',
  });
  assert.deepEqual(normalizeAuthConfig(['x']), {});
});

test('token cache: a token lives for expires_in (at least 60 s); concurrent fetches share one request', async () => {
  let now = 1_000_000;
  const cache = new TokenCache(() => now);
  cache.set('a', 'short', 5);
  now += 59_000;
  assert.equal(cache.get('a'), 'short');
  now += 2_000;
  assert.equal(cache.get('a'), undefined);
  cache.set('b', 'long', 300);
  now += 299_000;
  assert.equal(cache.get('b'), 'long');
  now += 1_000;
  assert.equal(cache.get('b'), undefined);

  let fetches = 0;
  const fetch = async () => {
    fetches++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { token: `t${fetches}`, expiresIn: 120 };
  };
  const tokens = await Promise.all([cache.getOrFetch('k', fetch), cache.getOrFetch('k', fetch), cache.getOrFetch('k', fetch)]);
  assert.deepEqual(tokens, ['t1', 't1', 't1']);
  assert.equal(await cache.getOrFetch('k', fetch), 't1');
  assert.equal(fetches, 1);
});

test('token answers: token or access_token; a refusal is worded as distribution words it', () => {
  assert.deepEqual(parseTokenResponse('{"token":"abc","expires_in":300}'), { token: 'abc', expiresIn: 300, refreshToken: undefined });
  assert.deepEqual(parseTokenResponse('{"access_token":"xyz","refresh_token":"r1"}'), { token: 'xyz', expiresIn: 60, refreshToken: 'r1' });
  assert.throws(() => parseTokenResponse('{}'), /authorization server did not include a token in the response/);
  assert.equal(tokenErrorMessage(401, '{"details":"incorrect username or password"}').message, 'unauthorized: incorrect username or password');
  assert.equal(tokenErrorMessage(401, 'nope').message, 'unauthorized: authentication required');
  assert.equal(tokenErrorMessage(401, 'nope').code, 'UNAUTHORIZED');
  assert.equal(tokenErrorMessage(403, '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}').message,
    'denied: requested access to the resource is denied');
  assert.equal(tokenErrorMessage(500, '').message, 'received unexpected HTTP status: 500 Internal Server Error');
  assert.equal(repositoryScope('me/app', ['pull', 'push']), 'repository:me/app:pull,push');
});
