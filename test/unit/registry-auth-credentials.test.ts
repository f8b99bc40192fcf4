import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authConfigKey, ClientConfig, configDir, convertToHostname, encodeAuthHeader, registryAuthFor } from '../../src/cli/credentials.js';

const dir = mkdtempSync('/tmp/berth-auth-creds-');
after(() => rmSync(dir, { recursive: true, force: true }));

test('config directory: --config, else BERTH_CONFIG, else ~/.berth', () => {
  assert.equal(configDir('/flag', { BERTH_CONFIG: '/env', HOME: '/home/u' }), '/flag');
  assert.equal(configDir(undefined, { BERTH_CONFIG: '/env', HOME: '/home/u' }), '/env');
  assert.equal(configDir(undefined, { HOME: '/home/u' }), '/home/u/.berth');
});

test('keys: Docker Hub is https://index.docker.io/v1/, other registries their host[:port]', () => {
  assert.equal(authConfigKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(authConfigKey('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(convertToHostname('https://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.equal(convertToHostname('registry.example/path'), 'registry.example');
  assert.equal(convertToHostname('registry.example'), 'registry.example');
});

test('the file store writes docker\'s config.json format (0600, tabs, base64 user:password) and keeps unknown keys', async () => {
  const home = join(dir, 'file');
  const path = join(home, 'config.json');
  mkdirSync(home);
  writeFileSync(path, JSON.stringify({ psFormat: 'table {{.ID}}', auths: { 'https://legacy.example:5000': { auth: Buffer.from('old:pw').toString('base64') } } }), { mode: 0o644 });
  const config = await ClientConfig.load(home);
  assert.deepEqual(await config.get('legacy.example:5000'), { serveraddress: 'https://legacy.example:5000', username: 'old', password: 'pw' });
  assert.equal(await config.store({ username: 'alice', password: 's3:cret', serveraddress: '127.0.0.1:5000' }), path, 'a plain-text password is reported for the warning');
  assert.equal(await config.store({ username: 'alice', password: 's3:cret', serveraddress: '127.0.0.1:5000' }), undefined, 'storing the same again changes nothing');
  const text = readFileSync(path, 'utf8');
  assert.match(text, /^\{\n\t"psFormat"/);
  const saved = JSON.parse(text) as { psFormat: string; auths: Record<string, { auth?: string }> };
  assert.equal(saved.psFormat, 'table {{.ID}}');
  assert.deepEqual(saved.auths['127.0.0.1:5000'], { auth: Buffer.from('alice:s3:cret').toString('base64') });
  assert.equal(statSync(path).mode & 0o777, 0o644, 'an existing file keeps its mode');
  const fresh = join(dir, 'fresh');
  const created = await ClientConfig.load(fresh);
  await created.store({ username: 'bob', password: 'pw', serveraddress: 'https://index.docker.io/v1/' });
  assert.equal(statSync(join(fresh, 'config.json')).mode & 0o777, 0o600);
  assert.equal(statSync(fresh).mode & 0o777, 0o700);

  const reread = await ClientConfig.load(home);
  assert.deepEqual(await registryAuthFor(reread, '127.0.0.1:5000/me/app'), { serveraddress: '127.0.0.1:5000', username: 'alice', password: 's3:cret' });
  assert.deepEqual(await registryAuthFor(reread, 'busybox'), {});
  assert.equal(await reread.erase('127.0.0.1:5000'), true);
  assert.equal(await reread.erase('127.0.0.1:5000'), false);
  assert.deepEqual((JSON.parse(readFileSync(path, 'utf8')) as { auths: object }).auths, { 'https://legacy.example:5000': { auth: Buffer.from('old:pw').toString('base64') } });
  assert.equal(Buffer.from(encodeAuthHeader({ username: 'a' }), 'base64url').toString(), '{"username":"a"}');
});

test('credential helpers: credHelpers per server over credsStore; secrets never reach config.json', async () => {
  const bin = join(dir, 'bin');
  const store = join(dir, 'helper-store');
  mkdirSync(bin);
  // A docker-credential-* helper speaking the get/store/erase protocol, keeping one JSON file per server.
  const helper = join(bin, 'docker-credential-berthtest');
  writeFileSync(helper, `#!/usr/bin/env python3
import json, os, sys, hashlib
store = ${JSON.stringify(store)}
os.makedirs(store, exist_ok=True)
data = sys.stdin.read()
action = sys.argv[1]
if action == 'store':
    creds = json.loads(data)
    open(os.path.join(store, hashlib.sha1(creds['ServerURL'].encode()).hexdigest()), 'w').write(data)
else:
    path = os.path.join(store, hashlib.sha1(data.strip().encode()).hexdigest())
    if not os.path.exists(path):
        print('credentials not found in native keychain'); sys.exit(1)
    if action == 'get':
        sys.stdout.write(open(path).read())
    else:
        os.remove(path)
`);
  chmodSync(helper, 0o755);
  const home = join(dir, 'helpers');
  mkdirSync(home);
  writeFileSync(join(home, 'config.json'), JSON.stringify({ credsStore: 'missing', credHelpers: { '127.0.0.1:5000': 'berthtest' } }));
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}:${oldPath}`;
  try {
    const config = await ClientConfig.load(home);
    assert.equal(config.helperFor('127.0.0.1:5000'), 'berthtest');
    assert.equal(config.helperFor('other:5000'), 'missing');
    assert.deepEqual(await config.get('127.0.0.1:5000'), {}, 'not found in the helper: no credentials');
    assert.equal(await config.store({ username: 'alice', password: 'pw', serveraddress: '127.0.0.1:5000' }), undefined);
    assert.doesNotMatch(readFileSync(join(home, 'config.json'), 'utf8'), /pw|auth"/);
    assert.deepEqual(await config.get('127.0.0.1:5000'), { serveraddress: '127.0.0.1:5000', username: 'alice', password: 'pw' });
    await config.store({ username: 'alice', identitytoken: 'refresh-me', serveraddress: '127.0.0.1:5000' });
    assert.deepEqual(await config.get('127.0.0.1:5000'), { serveraddress: '127.0.0.1:5000', identitytoken: 'refresh-me' });
    await config.erase('127.0.0.1:5000');
    assert.deepEqual(await config.get('127.0.0.1:5000'), {});
    await assert.rejects(config.get('other:5000'), /error getting credentials - err: exec: "docker-credential-missing": executable file not found in \$PATH/);
  } finally {
    process.env.PATH = oldPath;
  }
});
