// A CA with a server certificate (localhost, 127.0.0.1) and a client certificate, made with
// openssl the way the README's recipe (Docker's "Protect the Docker daemon socket") makes them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertificateSet {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes a CA and its certificates in `dir` (created); EC keys keep it fast. */
export function makeCertificates(dir: string, name = 'berth test'): CertificateSet {
  mkdirSync(dir, { recursive: true });
  const key = (file: string) => openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);
  key('ca-key.pem');
  openssl(dir, 'req', '-new', '-x509', '-days', '2', '-key', 'ca-key.pem', '-sha256', '-subj', `/CN=${name} CA`, '-out', 'ca.pem');
  writeFileSync(join(dir, 'server.cnf'), 'subjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  writeFileSync(join(dir, 'client.cnf'), 'extendedKeyUsage = clientAuth\n');
  for (const [who, subject] of [['server', '/CN=localhost'], ['client', '/CN=client']] as const) {
    key(`${who}-key.pem`);
    openssl(dir, 'req', '-new', '-key', `${who}-key.pem`, '-sha256', '-subj', subject, '-out', `${who}.csr`);
    openssl(dir, 'x509', '-req', '-days', '2', '-sha256', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem',
      '-CAcreateserial', '-out', `${who}-cert.pem`, '-extfile', `${who}.cnf`);
  }
  return {
    dir, ca: join(dir, 'ca.pem'), serverCert: join(dir, 'server-cert.pem'), serverKey: join(dir, 'server-key.pem'),
    clientCert: join(dir, 'client-cert.pem'), clientKey: join(dir, 'client-key.pem'),
  };
}
