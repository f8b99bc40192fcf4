// Signals to berthd: SIGHUP reloads daemon.json's reloadable keys (debug, labels,
// registry-mirrors, insecure-registries, max-concurrent-downloads) as dockerd does, and
// `docker info` shows the new values; an invalid file is logged and the old configuration kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestDaemon } from './harness.js';

const configDir = mkdtempSync('/tmp/berth-reload-');
const configFile = join(configDir, 'daemon.json');
writeFileSync(configFile, JSON.stringify({ labels: ['stage=one'] }));
const daemon = new TestDaemon(['--config-file', configFile]);

before(() => daemon.start());
after(async () => {
  await daemon.cleanup();
  rmSync(configDir, { recursive: true, force: true });
});

async function info(): Promise<{ Labels: string[]; Debug: boolean; RegistryConfig: { Mirrors: string[]; InsecureRegistryCIDRs: string[]; IndexConfigs: Record<string, unknown> } }> {
  return JSON.parse(await daemon.dockerOk(['info', '--format', '{{json .}}']));
}

function hangUp(): void {
  process.kill(Number(readFileSync(join(daemon.root, 'berthd.pid'), 'utf8')), 'SIGHUP');
}

test('SIGHUP applies the reloadable keys of daemon.json; docker info shows them', async () => {
  assert.deepEqual((await info()).Labels, ['stage=one']);
  writeFileSync(configFile, JSON.stringify({
    labels: ['stage=two', 'team=core'], debug: true, 'registry-mirrors': ['https://mirror.example.com'],
    'insecure-registries': ['10.9.0.0/16', 'registry.test:5000'], 'max-concurrent-downloads': 2,
  }));
  hangUp();
  const reloaded = await eventually(async () => {
    const current = await info();
    return current.Labels.includes('stage=two') && current;
  }, 10_000, 'the new labels');
  assert.deepEqual(reloaded.Labels, ['stage=two', 'team=core']);
  assert.equal(reloaded.Debug, true);
  assert.deepEqual(reloaded.RegistryConfig.Mirrors, ['https://mirror.example.com/']);
  assert.ok(reloaded.RegistryConfig.InsecureRegistryCIDRs.includes('10.9.0.0/16'), JSON.stringify(reloaded.RegistryConfig));
  assert.ok('registry.test:5000' in reloaded.RegistryConfig.IndexConfigs, JSON.stringify(reloaded.RegistryConfig));
  assert.match(await daemon.dockerOk(['info']), /Registry Mirrors:\n\s+https:\/\/mirror\.example\.com\//);
  assert.match(daemon.log, /reloaded configuration/);
});

test('an invalid daemon.json on SIGHUP is logged and the running configuration kept', async () => {
  const before = await info();
  for (const [text, message] of [
    ['{"labels": [', /error reconfiguring the daemon: unable to configure the daemon with file/],
    [JSON.stringify({ labels: ['novalue'] }), /error reconfiguring the daemon: bad attribute format: novalue/],
    [JSON.stringify({ labels: ['stage=three'], 'registry-mirrors': ['ftp://nope'] }), /error reconfiguring the daemon: .*ftp:\/\/nope/],
  ] as const) {
    writeFileSync(configFile, text);
    hangUp();
    await eventually(() => message.test(daemon.log), 10_000, `the log to say ${message}`);
    const after = await info();
    assert.deepEqual(after.Labels, before.Labels, 'labels unchanged (also those of a file whose other key is invalid)');
    assert.deepEqual(after.RegistryConfig.Mirrors, before.RegistryConfig.Mirrors);
    assert.equal(after.Debug, before.Debug);
  }
});
