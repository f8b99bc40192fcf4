// NODE_EXTRA_CA_CERTS when dist/berth started the CLI: the launcher (native/cli-launcher.c) moves
// it to BERTH_EXTRA_CA_CERTS so that node does not parse the file at every start. The CLI puts it
// back for the processes it starts, and adds the file's certificates itself where node would have
// used them: a TLS connection verified against the default roots (no CA of its own).
import { readFileSync } from 'node:fs';
import type * as Tls from 'node:tls';
import type { ClientTls } from '../client/engine-client.js';
import { loadBuiltin } from '../util/builtins.js';

/** The file node did not read at start, or undefined (none set, or node read it itself). */
let unreadExtraCaCerts: string | undefined;

/** Called once at start: NODE_EXTRA_CA_CERTS back in the environment, as the user set it. */
export function restoreExtraCaCerts(env: NodeJS.ProcessEnv = process.env): void {
  const moved = env.BERTH_EXTRA_CA_CERTS;
  if (moved === undefined) return;
  delete env.BERTH_EXTRA_CA_CERTS;
  // Set as well (node dist/berth.js run by hand with both): node has read that one itself.
  if (env.NODE_EXTRA_CA_CERTS !== undefined) return;
  env.NODE_EXTRA_CA_CERTS = moved;
  unreadExtraCaCerts = moved || undefined;
}

/** The file restoreExtraCaCerts found that node has not read. */
export function unreadExtraCaCertsFile(): string | undefined {
  return unreadExtraCaCerts;
}

/**
 * The trust node gives a TLS connection without a `ca` of its own is its bundled roots plus the
 * certificates of NODE_EXTRA_CA_CERTS; with the file unread at start, the same set given as `ca`.
 */
export function withExtraCaCerts(tls: ClientTls | undefined, file: string | undefined): ClientTls | undefined {
  if (!tls || !tls.verify || tls.ca !== undefined || file === undefined) return tls;
  let extra: Buffer;
  try {
    extra = readFileSync(file);
  } catch (error) {
    // Node's own words when it cannot load the file at start; it carries on without it.
    process.stderr.write(`Warning: Ignoring extra certs from \`${file}\`, load failed: ${(error as Error).message}\n`);
    return tls;
  }
  return { ...tls, ca: [...loadBuiltin<typeof Tls>('node:tls').rootCertificates, extra] };
}
