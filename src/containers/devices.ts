// Host device nodes given to containers: `--device` mappings (a node or a directory of nodes,
// as moby's oci.DevicesFromPath gathers them), every host device for --privileged (runc's
// devices.HostDevices walk of /dev), and `--device-cgroup-rule` lines. Parsing is pure; the
// lookups read the host's /dev.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { badParameter } from '../errdefs/errors.js';
import type { OciDeviceCgroupRule, OciLinuxDevice } from '../runtime/oci-types.js';

export interface DeviceMapping { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }
export interface GatheredDevice { device: OciLinuxDevice; cgroupPermissions: string }

/** Linux's major(3)/minor(3) of a dev_t. */
export function deviceNumbers(rdev: number | bigint): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xfff00n));
  return { major, minor };
}

/** The OCI device for a stat result, or undefined when it is not a character or block device. */
export function deviceFromStats(path: string, stats: Stats): OciLinuxDevice | undefined {
  const type = stats.isCharacterDevice() ? 'c' : stats.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  const { major, minor } = deviceNumbers(stats.rdev);
  return { path, type, major, minor, fileMode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory', EACCES: 'permission denied', ENOTDIR: 'not a directory', ELOOP: 'too many levels of symbolic links',
};

/** Docker's CgroupPermissions check: one or more of r, w, m, each at most once. */
export function validDeviceMode(mode: string): boolean {
  return mode !== '' && mode.length <= 3 && [...mode].every((c, i) => 'rwm'.includes(c) && mode.indexOf(c) === i);
}

/**
 * The device nodes of one HostConfig.Devices entry (moby oci.DevicesFromPath): a node, or every
 * node under a directory (its paths moved under PathInContainer). Throws Docker's error otherwise.
 */
export async function gatherDevices(mapping: DeviceMapping): Promise<GatheredDevice[]> {
  const { PathOnHost: pathOnHost, CgroupPermissions: permissions } = mapping;
  const pathInContainer = mapping.PathInContainer || pathOnHost;
  const fail = (why: string) => badParameter(`error gathering device information while adding custom device ${JSON.stringify(pathOnHost)}: ${why}`);
  if (!validDeviceMode(permissions || 'rwm')) throw badParameter(`invalid device mode: ${permissions}`);
  let resolved = pathOnHost;
  let stats: Stats;
  try {
    if ((await lstat(pathOnHost)).isSymbolicLink()) resolved = await realpath(pathOnHost);
    stats = await stat(resolved);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw fail(ERRNO_TEXT[code] ?? (error as Error).message);
  }
  const single = deviceFromStats(pathInContainer, stats);
  if (single) return [{ device: single, cgroupPermissions: permissions || 'rwm' }];
  if (!stats.isDirectory()) throw fail('not a device node');
  const found: GatheredDevice[] = [];
  for (const { path, device } of await walkDevices(resolved, () => false)) {
    found.push({ device: { ...device, path: pathInContainer + path.slice(resolved.length) }, cgroupPermissions: permissions || 'rwm' });
  }
  if (found.length === 0) throw fail('not a device node');
  return found;
}

/** Every device node under `root`, depth first in name order, skipping what `skipDirectory` says. */
async function walkDevices(root: string, skipDirectory: (name: string) => boolean, skipFile: (name: string) => boolean = () => false): Promise<Array<{ path: string; device: OciLinuxDevice }>> {
  const found: Array<{ path: string; device: OciLinuxDevice }> = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!skipDirectory(entry.name)) await visit(path);
        continue;
      }
      if (skipFile(entry.name) || !(entry.isCharacterDevice() || entry.isBlockDevice())) continue;
      const stats = await lstat(path).catch(() => undefined);
      const device = stats && deviceFromStats(path, stats);
      if (device) found.push({ path, device });
    }
  };
  await visit(root);
  return found;
}

/** runc's HostDevices: the nodes under /dev but pts, shm, fd, mqueue and /dev/console, for --privileged. */
const HOST_DEVICE_SKIPPED_DIRECTORIES = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
export async function hostDevices(root = '/dev'): Promise<OciLinuxDevice[]> {
  const nodes = await walkDevices(root, (name) => HOST_DEVICE_SKIPPED_DIRECTORIES.has(name), (name) => name === 'console');
  return nodes.map(({ device }) => device);
}

const DEVICE_CGROUP_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** A `--device-cgroup-rule` line ("c 1:3 mr", "a *:* rwm") as an OCI allow rule (moby's deviceCgroupRuleRegex). */
export function parseDeviceCgroupRule(rule: string): OciDeviceCgroupRule {
  const match = DEVICE_CGROUP_RULE.exec(rule);
  if (!match) throw badParameter(`invalid device cgroup rule format: '${rule}'`);
  const parsed: OciDeviceCgroupRule = { allow: true, type: match[1] as 'a' | 'c' | 'b', access: match[4] };
  if (match[2] !== '*') parsed.major = Number(match[2]);
  if (match[3] !== '*') parsed.minor = Number(match[3]);
  return parsed;
}
