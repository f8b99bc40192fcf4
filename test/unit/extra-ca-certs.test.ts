// NODE_EXTRA_CA_CERTS moved aside by dist/berth: put back for the CLI's children, and its
// certificates added to node's bundled roots only where node would have used them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { restoreExtraCaCerts, withExtraCaCerts } from '../../src/cli/extra-ca-certs.js';

test('restoreExtraCaCerts: the launcher\'s BERTH_EXTRA_CA_CERTS goes back to NODE_EXTRA_CA_CERTS', () => {
  const moved: NodeJS.ProcessEnv = { BERTH_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' };
  restoreExtraCaCerts(moved);
  assert.deepEqual(moved, { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' });
  // Both set (node dist/berth.js run with both): node has read its own; the moved one is dropped.
  const both: NodeJS.ProcessEnv = { BERTH_EXTRA_CA_CERTS: '/a.pem', NODE_EXTRA_CA_CERTS: '/b.pem' };
  restoreExtraCaCerts(both);
  assert.deepEqual(both, { NODE_EXTRA_CA_CERTS: '/b.pem' });
  const none: NodeJS.ProcessEnv = { PATH: '/bin' };
  restoreExtraCaCerts(none);
  assert.deepEqual(none, { PATH: '/bin' });
});

test('withExtraCaCerts: node\'s roots plus the file, only for verification without a CA of its own', (t) => {
  const dir = mkdtempSync('/tmp/berth-extra-ca-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'extra.pem');
  writeFileSync(file, '-----BEGIN CERTIFICATE-----\nextra\n-----END CERTIFICATE-----\n');

  const verified = withExtraCaCerts({ verify: true }, file);
  assert.ok(Array.isArray(verified?.ca));
  const ca = verified.ca as Array<string | Buffer>;
  assert.equal(ca.length, rootCertificates.length + 1);
  assert.deepEqual(ca.slice(0, -1), [...rootCertificates]);
  assert.match(String(ca.at(-1)), /extra/);

  const own = { verify: true, ca: Buffer.from('own') };
  assert.equal(withExtraCaCerts(own, file), own, 'a CA of its own (ca.pem) is all that is trusted');
  const unverified = { verify: false };
  assert.equal(withExtraCaCerts(unverified, file), unverified);
  assert.equal(withExtraCaCerts(undefined, file), undefined, 'no TLS (a unix socket)');
  assert.deepEqual(withExtraCaCerts({ verify: true }, undefined), { verify: true }, 'nothing moved aside: node read it itself');
  // An unreadable file: node warns and carries on with its roots; so does the CLI.
  assert.deepEqual(withExtraCaCerts({ verify: true }, join(dir, 'missing.pem')), { verify: true });
});
