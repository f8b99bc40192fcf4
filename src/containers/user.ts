// Resolves a container's `User` ("name", "uid", "name:group", "uid:gid", ...) against the
// container's own /etc/passwd and /etc/group text, with runc's rules and error wording
// (libcontainer/user GetExecUser, GetAdditionalGroups).
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups: groups listing the user as a member, then --group-add ones. */
  additionalGids: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const MAX_ID = 2 ** 31 - 1;
const RANGE_ERROR = `uids and gids must be in range 0-${MAX_ID}`;

/** Go's strconv.Atoi, with parse errors read as 0 as runc does for misbehaving files. */
function atoiLenient(text: string | undefined): number {
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return 0;
  return Number.parseInt(text, 10);
}

/** `[numeric value, isNumeric]`; numbers outside 0..2^31-1 are an error, as in runc. */
function parseNumericId(text: string): [number, boolean] {
  if (text === '' || !/^[+-]?\d+$/.test(text)) return [0, false];
  const id = Number(text);
  if (id < 0 || id > MAX_ID) throw new Error(RANGE_ERROR);
  return [id, true];
}

function fileLines(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
}

export function parsePasswd(text: string): PasswdEntry[] {
  return fileLines(text).map((line) => {
    const [name = '', , uid, gid, , home = ''] = line.split(':');
    return { name, uid: atoiLenient(uid), gid: atoiLenient(gid), home };
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return fileLines(text)
    .filter((line) => !line.startsWith('#'))
    .map((line) => {
      const [name = '', , gid, list] = line.split(':');
      return { name, gid: atoiLenient(gid), members: list ? list.split(',') : [] };
    });
}

/**
 * The uid/gid/groups/home a container process runs as. `passwd`/`group` are the files' text
 * from the container's root filesystem, or undefined when the file does not exist.
 * `groupAdd` is HostConfig.GroupAdd (names or numbers).
 */
export function resolveUser(
  user: string | undefined,
  passwd: string | undefined,
  group: string | undefined,
  groupAdd: string[] = [],
): ResolvedUser {
  const [userArg = '', groupArg = ''] = (user ?? '').split(':');
  const [uidArg, isUid] = parseNumericId(userArg);
  const [gidArg, isGid] = parseNumericId(groupArg);

  let uid = 0;
  let gid = 0;
  let home = '/';
  let additionalGids: number[] = [];

  const users = passwd === undefined ? [] : parsePasswd(passwd).filter((entry) => {
    if (userArg === '') return entry.uid === 0;
    return isUid ? entry.uid === uidArg : entry.name === userArg;
  });

  let matchedName = '';
  if (users.length > 0) {
    [{ name: matchedName, uid, gid, home }] = users;
  } else if (userArg !== '') {
    if (!isUid) throw new Error(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = uidArg;
  }

  if (groupArg !== '' || matchedName !== '') {
    const groups = group === undefined ? [] : parseGroup(group).filter((entry) => {
      if (groupArg === '') return entry.members.includes(matchedName);
      return isGid ? entry.gid === gidArg : entry.name === groupArg;
    });
    if (groupArg !== '') {
      if (groups.length > 0) gid = groups[0].gid;
      else if (!isGid) throw new Error(`unable to find group ${groupArg}: no matching entries in group file`);
      else gid = gidArg;
    } else {
      additionalGids = groups.map((entry) => entry.gid);
    }
  }

  // Each group once, the primary one not again: the process gets [gid, ...additionalGids] (runc
  // drops repeats, crun passes them to setgroups as they are).
  const supplementary = [...new Set([...additionalGids, ...resolveAdditionalGroups(groupAdd, group)])].filter((id) => id !== gid);
  return { uid, gid, additionalGids: supplementary, home };
}

/** HostConfig.GroupAdd: names must exist in /etc/group, numbers may be used as they are. */
export function resolveAdditionalGroups(names: string[], group: string | undefined): number[] {
  const groups = group === undefined ? [] : parseGroup(group);
  const gids: number[] = [];
  for (const name of names) {
    const [gid, isNumeric] = parseNumericId(name);
    const found = groups.find((entry) => (isNumeric ? entry.gid === gid : entry.name === name));
    if (found) {
      if (found.gid < 0 || found.gid > MAX_ID) throw new Error(RANGE_ERROR);
      if (!gids.includes(found.gid)) gids.push(found.gid);
    } else if (!isNumeric) {
      throw new Error(`unable to find group ${name}: no matching entries in group file`);
    } else if (!gids.includes(gid)) {
      gids.push(gid);
    }
  }
  return gids;
}

/** Reads a file from the container's root without following a symlink that could lead out of it. */
export async function readContainerFile(root: string, relative: string): Promise<string | undefined> {
  const path = join(root, relative);
  try {
    if ((await lstat(path)).isSymbolicLink()) return undefined;
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
