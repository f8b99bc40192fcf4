// --userns-remap at daemon start, as dockerd does it (daemon parseRemappedRoot, idtools
// NewIdentityMapping, AddNamespaceRangesUser): the user and group named (for "default" the
// `dockremap` user, created with ranges of its own when missing), their ranges in /etc/subuid
// and /etc/subgid as the containers' ID mappings, and the data root under `<uid>.<gid>/`.
import { execFile } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parseGroup, parsePasswd } from '../containers/user.js';
import {
  type IdMappings, mappingsFromRanges, nextFreeRangeStart, subordinateRanges, toHostId,
} from '../util/id-mappings.js';
import { ConfigError } from './config.js';

const execFileAsync = promisify(execFile);

const DEFAULT_SPECIFIER = 'default';
const DEFAULT_REMAPPED_ID = 'dockremap';
const RANGE_SIZE = 65536;

export interface EtcFiles { passwd: string; group: string; subuid: string; subgid: string }

export interface RemappedRoot {
  user: string;
  group: string;
  mappings: IdMappings;
  /** The host IDs of the containers' root. */
  root: { uid: number; gid: number };
}

/**
 * The user and group a --userns-remap value names, against the host's passwd and group text.
 * `undefined` user means "default" and no dockremap user exists yet (the caller creates it).
 */
export function parseRemapSpec(spec: string, etc: Pick<EtcFiles, 'passwd' | 'group'>): { user: string; group: string } | undefined {
  const parts = spec.split(':');
  if (parts.length > 2 || parts[0] === '') throw new ConfigError(`Invalid user/group specification in --userns-remap: ${JSON.stringify(spec)}`);
  const users = parsePasswd(etc.passwd);
  const groups = parseGroup(etc.group);
  let user: string;
  let group: string | undefined;
  if (/^\d+$/.test(parts[0])) {
    const uid = Number(parts[0]);
    const entry = users.find((u) => u.uid === uid);
    if (!entry) throw new ConfigError(`Uid ${uid} has no entry in /etc/passwd`);
    user = entry.name;
    if (parts.length === 1) {
      const groupEntry = groups.find((g) => g.gid === uid);
      if (!groupEntry) throw new ConfigError(`Gid ${uid} has no entry in /etc/group`);
      group = groupEntry.name;
    }
  } else {
    const name = parts[0] === DEFAULT_SPECIFIER ? DEFAULT_REMAPPED_ID : parts[0];
    const entry = users.find((u) => u.name === name);
    if (!entry) {
      if (parts[0] === DEFAULT_SPECIFIER) return undefined;
      throw new ConfigError(`Error during uid lookup for ${JSON.stringify(name)}: user: unknown user ${name}`);
    }
    user = entry.name;
    if (parts.length === 1) {
      if (!groups.some((g) => g.name === name)) throw new ConfigError(`Error during gid lookup for ${JSON.stringify(name)}: group: unknown group ${name}`);
      group = name;
    }
  }
  if (parts.length === 2) {
    const wanted = parts[1];
    const entry = /^\d+$/.test(wanted) ? groups.find((g) => g.gid === Number(wanted)) : groups.find((g) => g.name === wanted);
    if (!entry) throw new ConfigError(`Error during gid lookup for ${JSON.stringify(wanted)}: group: unknown group ${wanted}`);
    group = entry.name;
  }
  return { user, group: group! };
}

/** The mappings of a user and group from the subuid/subgid text (ranges listed by name or by ID). */
export function remappedRoot(user: string, group: string, etc: EtcFiles): RemappedRoot {
  const uid = parsePasswd(etc.passwd).find((u) => u.name === user)?.uid;
  const gid = parseGroup(etc.group).find((g) => g.name === group)?.gid;
  const uidRanges = subordinateRanges(etc.subuid, [user, ...(uid === undefined ? [] : [String(uid)])]);
  if (uidRanges.length === 0) throw new ConfigError(`Can't create ID mappings: No subuid ranges found for user ${JSON.stringify(user)} in /etc/subuid`);
  const gidRanges = subordinateRanges(etc.subgid, [group, ...(gid === undefined ? [] : [String(gid)])]);
  if (gidRanges.length === 0) throw new ConfigError(`Can't create ID mappings: No subgid ranges found for group ${JSON.stringify(group)} in /etc/subgid`);
  const mappings = { uidMappings: mappingsFromRanges(uidRanges), gidMappings: mappingsFromRanges(gidRanges) };
  return { user, group, mappings, root: { uid: toHostId(0, mappings.uidMappings)!, gid: toHostId(0, mappings.gidMappings)! } };
}

async function readEtc(): Promise<EtcFiles> {
  const read = (path: string) => readFile(path, 'utf8').catch(() => '');
  return { passwd: await read('/etc/passwd'), group: await read('/etc/group'), subuid: await read('/etc/subuid'), subgid: await read('/etc/subgid') };
}

/** idtools.AddNamespaceRangesUser: the dockremap system user, and a free range of its own in subuid and subgid. */
async function addNamespaceRangesUser(name: string): Promise<void> {
  try {
    await execFileAsync('useradd', ['--system', '--shell', '/bin/false', '--user-group', '--no-create-home', name]);
  } catch (error) {
    throw new ConfigError(`Error during ${JSON.stringify(name)} user creation: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`);
  }
  const etc = await readEtc();
  for (const [file, text] of [['/etc/subuid', etc.subuid], ['/etc/subgid', etc.subgid]] as const) {
    if (subordinateRanges(text, [name]).length > 0) continue;
    const start = nextFreeRangeStart(subordinateRanges(text, text.split('\n').map((line) => line.split(':')[0])), RANGE_SIZE);
    const separator = text === '' || text.endsWith('\n') ? '' : '\n';
    await appendFile(file, `${separator}${name}:${start}:${RANGE_SIZE}\n`);
  }
}

/** Resolves --userns-remap against the host's files, creating dockremap for "default". */
export async function setUpRemap(spec: string): Promise<RemappedRoot> {
  let names = parseRemapSpec(spec, await readEtc());
  if (!names) {
    await addNamespaceRangesUser(DEFAULT_REMAPPED_ID);
    names = { user: DEFAULT_REMAPPED_ID, group: DEFAULT_REMAPPED_ID };
  }
  return remappedRoot(names.user, names.group, await readEtc());
}

/**
 * The remapped data root `<data-root>/<uid>.<gid>` (root:remapped-gid, 0710), after checking
 * that the remapped root can reach it: every directory above must let others search it.
 */
export async function remappedDataRoot(dataRoot: string, root: { uid: number; gid: number }): Promise<string> {
  for (let dir = dataRoot; ; dir = dirname(dir)) {
    const mode = (await stat(dir)).mode;
    if ((mode & 0o001) === 0) {
      throw new ConfigError(`a subdirectory in your graphroot path (${dataRoot}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories`);
    }
    if (dirname(dir) === dir) break;
  }
  const remapped = join(dataRoot, `${root.uid}.${root.gid}`);
  await mkdir(remapped, { recursive: true });
  await chown(remapped, 0, root.gid);
  await chmod(remapped, 0o710);
  return remapped;
}
