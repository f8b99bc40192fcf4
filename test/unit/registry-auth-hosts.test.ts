import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginHost, RegistryConfigError, RegistryHosts, splitSearchTerm, validateMirror } from '../../src/distribution/registry-hosts.js';
import { mergeConfig, parseDaemonArgs } from '../../src/daemon/config.js';

const names: Record<string, string[]> = { 'localhost': ['127.0.0.1', '::1'], 'reg.internal': ['10.20.30.40'], 'elsewhere.example': ['192.0.2.7'] };
const lookedUp: string[] = [];
const lookup = async (hostname: string) => {
  lookedUp.push(hostname);
  return names[hostname] ?? [];
};

test('insecure registries: 127.0.0.0/8 by default, CIDRs (names resolved to match), host:port entries; docker.io always secure', async () => {
  const plain = new RegistryHosts({ lookup });
  assert.equal(await plain.isSecure('127.0.0.1:5000'), false);
  assert.equal(await plain.isSecure('127.200.1.1'), false);
  assert.equal(await plain.isSecure('localhost:5000'), false);
  assert.equal(await plain.isSecure('10.20.30.40:5000'), true);
  assert.equal(await plain.isSecure('[::1]:5000'), true, 'Docker lists only 127.0.0.0/8, not ::1');
  const configured = new RegistryHosts({ insecureRegistries: ['10.0.0.0/8', 'myregistry:5000', 'http://old.style:443'], lookup });
  assert.equal(await configured.isSecure('reg.internal:5000'), false);
  assert.equal(await configured.isSecure('10.9.9.9'), false);
  assert.equal(await configured.isSecure('myregistry:5000'), false);
  assert.equal(await configured.isSecure('myregistry:5001'), true);
  assert.equal(await configured.isSecure('old.style:443'), false);
  assert.equal(await configured.isSecure('elsewhere.example'), true);
  lookedUp.length = 0;
  assert.equal(await configured.isSecure('docker.io'), true);
  assert.equal(await configured.isSecure('index.docker.io'), true);
  assert.deepEqual(lookedUp, [], 'Docker Hub is never looked up');
  assert.deepEqual(configured.serviceConfig().InsecureRegistryCIDRs, ['10.0.0.0/8', '127.0.0.0/8']);
  assert.deepEqual(Object.keys(configured.serviceConfig().IndexConfigs).sort(), ['docker.io', 'myregistry:5000', 'old.style:443']);
  assert.deepEqual(new RegistryHosts({ insecureRegistries: ['192.168.7.9/16'] }).serviceConfig().InsecureRegistryCIDRs, ['192.168.0.0/16', '127.0.0.0/8']);
});

test('endpoints: secure registries over verified HTTPS only; insecure ones HTTPS unverified, then plain HTTP', async () => {
  const hosts = new RegistryHosts({ insecureRegistries: ['myregistry:5000'], lookup });
  const shown = (groups: Awaited<ReturnType<RegistryHosts['endpointGroups']>>) =>
    groups.map((group) => group.map((endpoint) => `${endpoint.url.href}${endpoint.insecureTls ? ' (unverified)' : ''}${endpoint.mirror ? ' mirror' : ''}`));
  assert.deepEqual(shown(await hosts.endpointGroups('quay.io', 'pull')), [['https://quay.io/']]);
  assert.deepEqual(shown(await hosts.endpointGroups('myregistry:5000', 'push')), [['https://myregistry:5000/ (unverified)', 'http://myregistry:5000/ (unverified)']]);
  assert.deepEqual(shown(await hosts.endpointGroups('127.0.0.1:5000', 'pull')), [['https://127.0.0.1:5000/ (unverified)', 'http://127.0.0.1:5000/ (unverified)']]);
});

test('mirrors: docker.io pulls try each mirror in order, then Docker Hub; pushes and other registries never use them', async () => {
  const hosts = new RegistryHosts({ mirrors: ['http://127.0.0.1:5001', 'https://mirror.example/', 'https://127.0.0.1:5002'], lookup });
  const pull = await hosts.endpointGroups('docker.io', 'pull');
  assert.deepEqual(pull.map((group) => group.map((endpoint) => [endpoint.url.href, endpoint.mirror, endpoint.insecureTls])), [
    [['http://127.0.0.1:5001/', true, false]],
    [['https://mirror.example/', true, false]],
    [['https://127.0.0.1:5002/', true, true]],
    [['https://registry-1.docker.io/', false, false]],
  ]);
  assert.deepEqual((await hosts.endpointGroups('docker.io', 'push')).map((group) => group.map((endpoint) => endpoint.url.href)), [['https://registry-1.docker.io/']]);
  assert.deepEqual((await hosts.endpointGroups('index.docker.io', 'push')).map((group) => group.map((endpoint) => endpoint.url.href)), [['https://registry-1.docker.io/']]);
  assert.deepEqual(hosts.mirrors, ['http://127.0.0.1:5001/', 'https://mirror.example/', 'https://127.0.0.1:5002/']);
  assert.deepEqual(hosts.serviceConfig().IndexConfigs['docker.io'], { Name: 'docker.io', Mirrors: hosts.mirrors, Secure: true, Official: true });
});

test('configuration errors are worded as dockerd words them', () => {
  assert.throws(() => validateMirror('ftp://m'), /invalid mirror: unsupported scheme "ftp" in "ftp:\/\/m"/);
  assert.throws(() => validateMirror('mirror.example'), /invalid mirror: unsupported scheme/);
  assert.throws(() => validateMirror('https://m/?x=1'), /invalid mirror: query or fragment at end of the URI/);
  assert.throws(() => validateMirror('https://u:secret@m/'), (error: unknown) => error instanceof RegistryConfigError && /username\/password not allowed/.test(error.message) && !/secret/.test(error.message));
  assert.throws(() => new RegistryHosts({ insecureRegistries: ['ftp://x'] }), /insecure registry ftp:\/\/x should not contain ':\/\/'/);
  assert.throws(() => new RegistryHosts({ insecureRegistries: ['bad_host!'] }), /insecure registry bad_host! is not valid: invalid host "bad_host!"/);
  assert.throws(() => new RegistryHosts({ insecureRegistries: ['-x'] }), /Cannot begin or end with a hyphen/);
  assert.throws(() => new RegistryHosts({ mirrors: 'http://m' as unknown as string[] }), /registry-mirrors must be a list of strings/);
});

test('daemon flags and daemon.json keys for mirrors and insecure registries', () => {
  const { flags } = parseDaemonArgs(['--registry-mirror', 'http://127.0.0.1:5001', '--registry-mirror=http://127.0.0.1:5002', '--insecure-registry', '10.0.0.0/8']);
  assert.deepEqual(flags.registryMirrors, ['http://127.0.0.1:5001', 'http://127.0.0.1:5002']);
  assert.deepEqual(flags.insecureRegistries, ['10.0.0.0/8']);
  const config = mergeConfig({}, JSON.stringify({ 'registry-mirrors': ['https://m.example'], 'insecure-registries': ['r:5000'] }));
  assert.deepEqual(config.registryMirrors, ['https://m.example']);
  assert.deepEqual(config.insecureRegistries, ['r:5000']);
  assert.deepEqual(mergeConfig({}, undefined).registryMirrors, []);
  assert.throws(() => mergeConfig({ registryMirrors: ['x'] }, '{"registry-mirrors": ["y"]}'), /specified both as a flag and in the configuration file: registry-mirrors/);
});

test('login server addresses and search terms name their registry as Docker reads them', () => {
  assert.equal(loginHost(undefined), 'index.docker.io');
  assert.equal(loginHost('https://index.docker.io/v1/'), 'index.docker.io');
  assert.equal(loginHost('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(loginHost('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.deepEqual(splitSearchTerm('busybox'), { index: 'docker.io', remote: 'busybox' });
  assert.deepEqual(splitSearchTerm('me/app'), { index: 'docker.io', remote: 'me/app' });
  assert.deepEqual(splitSearchTerm('127.0.0.1:5000/me'), { index: '127.0.0.1:5000', remote: 'me' });
  assert.deepEqual(splitSearchTerm('localhost/x/y'), { index: 'localhost', remote: 'x/y' });
});
