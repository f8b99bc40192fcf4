// The X-Docker-Container-Path-Stat header of the archive API: Go's os.FileMode bits and
// time.Time text, base64 JSON.
import type { ContainerPathStat } from './types.js';

const MODE_DIR = 2 ** 31;

const MODE_SYMLINK = 2 ** 27;

const MODE_DEVICE = 2 ** 26;

const MODE_NAMED_PIPE = 2 ** 25;

const MODE_SOCKET = 2 ** 24;

const MODE_SETUID = 2 ** 23;

const MODE_SETGID = 2 ** 22;

const MODE_CHAR_DEVICE = 2 ** 21;

const MODE_STICKY = 2 ** 20;

const MODE_IRREGULAR = 2 ** 19;

/** The Unix st_mode as Go's os.FileMode (what the stat header carries). */
export function goFileMode(mode: number): number {
  let result = mode & 0o777;
  switch (mode & 0o170000) {
    case 0o040000: result += MODE_DIR; break;
    case 0o120000: result += MODE_SYMLINK; break;
    case 0o060000: result += MODE_DEVICE; break;
    case 0o020000: result += MODE_DEVICE + MODE_CHAR_DEVICE; break;
    case 0o010000: result += MODE_NAMED_PIPE; break;
    case 0o140000: result += MODE_SOCKET; break;
    default: break;
  }
  if (mode & 0o4000) result += MODE_SETUID;
  if (mode & 0o2000) result += MODE_SETGID;
  if (mode & 0o1000) result += MODE_STICKY;
  return result;
}

const hasBit = (mode: number, bit: number) => Math.floor(mode / bit) % 2 === 1;

/** Go's FileMode.IsDir. */
export const isGoDir = (mode: number) => hasBit(mode, MODE_DIR);

export const isGoSymlink = (mode: number) => hasBit(mode, MODE_SYMLINK);

/** What the docker CLI refuses as a copy destination (ValidateOutputPathFileMode). */
export function goModeProblem(mode: number): string | undefined {
  if (hasBit(mode, MODE_DEVICE)) return 'got a device';
  if (hasBit(mode, MODE_IRREGULAR)) return 'got an irregular file';
  return undefined;
}

/** Go's time.Time JSON (RFC 3339, nanoseconds without trailing zeros), in UTC. */
export function formatGoTimeNs(ns: bigint): string {
  const billion = 1_000_000_000n;
  let seconds = ns / billion;
  let nanos = ns % billion;
  if (nanos < 0n) {
    nanos += billion;
    seconds -= 1n;
  }
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = nanos === 0n ? '' : `.${nanos.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${base}${fraction}Z`;
}

/** The X-Docker-Container-Path-Stat header value. */
export function encodePathStat(stat: ContainerPathStat): string {
  const { name, size, mode, mtime, linkTarget } = stat;
  return Buffer.from(JSON.stringify({ name, size, mode, mtime, linkTarget })).toString('base64');
}

export function decodePathStat(header: string): ContainerPathStat {
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ContainerPathStat;
}
