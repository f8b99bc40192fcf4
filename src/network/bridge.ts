// The bridge driver's host side, through iproute2 with as few processes as possible (`ip
// -batch`): bridges, a network namespace per container (a bind-mounted nsfs file under the
// exec root, which outlives berthd), and a veth pair per endpoint. Everything here tolerates
// finding nothing to undo.
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { IdMappings } from '../util/id-mappings.js';
import { run } from '../util/exec.js';

/** One endpoint of a sandbox: the container side's name and address, the host side's name and bridge. */
export interface EndpointLink {
  ifname: string;
  hostVeth: string;
  bridge: string;
  mac: string;
  address: string;
  prefixLength: number;
  /** the default route goes through this endpoint's gateway */
  gateway?: string;
  mtu: number;
}

const ownNetns = `/proc/${process.pid}/ns/net`;

/**
 * Whether berthd's own network namespace has the interface. /proc/self/net follows the
 * process's namespace, where /sys/class/net shows the one sysfs was mounted in: under
 * `unshare --net` (the benches) that is the host's, and a restarted berthd took its own bridge
 * for missing and failed to start ("RTNETLINK answers: File exists").
 */
export function interfaceExists(name: string): boolean {
  return readFileSync('/proc/self/net/dev', 'utf8').split('\n').some((line) => line.includes(':') && line.slice(0, line.indexOf(':')).trim() === name);
}

/**
 * Bridges' interface indexes, as `ip` printed them when the bridge was brought up: a sandbox's
 * host-side veth is plugged into its bridge by index (`master ifN`) from inside the new namespace,
 * which cannot name the host's devices. Indexes are never reused while the host runs (the kernel
 * allocates them upwards), so a stale entry fails the start (no such device) instead of plugging
 * the veth into another bridge; a failed start drops the entry and the next one asks again.
 */
const bridgeIndexes = new Map<string, number>();

/** The interface index in `ip link show` output ("7: berth0: <...") of the named device. */
export function parseLinkIndex(output: string, name: string): number | undefined {
  for (const line of output.split('\n')) {
    const match = /^(\d+): ([^:@\s]+)[:@]/.exec(line);
    if (match?.[2] === name) return Number(match[1]);
  }
  return undefined;
}

/** The bridge with its gateway address, up (made if missing, its address set if it lost it). */
export async function ensureBridge(name: string, gatewayCidr: string, mtu: number): Promise<void> {
  const lines = [];
  if (!interfaceExists(name)) lines.push(`link add ${name} mtu ${mtu} type bridge`);
  lines.push(`addr replace ${gatewayCidr} dev ${name}`, `link set ${name} up`, `link show dev ${name}`);
  const output = await run('ip', ['-batch', '-'], { input: lines.join('\n') + '\n' });
  const index = parseLinkIndex(output, name);
  if (index !== undefined) bridgeIndexes.set(name, index);
}

async function bridgeIndex(name: string): Promise<number> {
  let index = bridgeIndexes.get(name);
  if (index === undefined) {
    index = parseLinkIndex(await run('ip', ['-o', 'link', 'show', 'dev', name]), name);
    if (index === undefined) throw new Error(`bridge ${name} not found`);
    bridgeIndexes.set(name, index);
  }
  return index;
}

export async function deleteBridge(name: string): Promise<void> {
  bridgeIndexes.delete(name);
  if (!interfaceExists(name)) return;
  await run('ip', ['link', 'del', name]).catch(() => undefined);
}

/** The host-side interfaces plugged into a bridge (sysfs: no process). */
export async function bridgePorts(bridge: string): Promise<string[]> {
  try {
    return await readdir(`/sys/class/net/${bridge}/brif`);
  } catch {
    return [];
  }
}

/** Deletes the links that exist (sysfs says so: no process when none does), in one process. */
export async function deleteLinks(names: readonly string[]): Promise<void> {
  const present = names.filter(interfaceExists);
  if (present.length === 0) return;
  await run('ip', ['-force', '-batch', '-'], { input: present.map((name) => `link del ${name}`).join('\n') + '\n' }).catch(() => undefined);
}

/**
 * Commands, run inside a new namespace, that make an endpoint: the veth's host side is made in
 * berthd's namespace (`netns`), plugged into its bridge (by index: the bridge cannot be named from
 * inside) and up; its peer stays inside as the container's interface. One process for all.
 * Only for a namespace berthd just made: in a container's own namespace, a device named like
 * `ifN` would be taken for that index.
 */
function sandboxSide(link: EndpointLink, bridgeIndex: number): string[] {
  return [
    `link add ${link.hostVeth} mtu ${link.mtu} netns ${ownNetns} master if${bridgeIndex} up type veth peer name ${link.ifname} mtu ${link.mtu} address ${link.mac}`,
    ...addressing(link),
  ];
}

/** Commands, run inside the namespace, that make an endpoint's container side (and its host-side peer, in berthd's namespace). */
function containerSide(link: EndpointLink): string[] {
  return [
    `link add ${link.ifname} mtu ${link.mtu} address ${link.mac} type veth peer name ${link.hostVeth} mtu ${link.mtu} netns ${ownNetns}`,
    ...addressing(link),
  ];
}

function addressing(link: EndpointLink): string[] {
  return [
    `addr add ${link.address}/${link.prefixLength} dev ${link.ifname}`,
    `link set ${link.ifname} up`,
    ...(link.gateway ? [`route replace default via ${link.gateway} dev ${link.ifname}`] : []),
  ];
}

/** Plugs the host sides into their bridges. */
async function hostSide(links: readonly EndpointLink[]): Promise<void> {
  if (links.length === 0) return;
  await run('ip', ['-batch', '-'], { input: links.map((link) => `link set ${link.hostVeth} master ${link.bridge} up`).join('\n') + '\n' });
}

/**
 * Where the user namespace that owns a remapped container's sandbox is bound: beside the
 * network namespaces, in `userns/` (never in `netns/`, whose names are container IDs).
 */
export function userNamespacePath(netnsPath: string): string {
  return join(dirname(dirname(netnsPath)), 'userns', basename(netnsPath));
}

/**
 * A new network namespace bound at `path` with loopback up and the endpoints made, each plugged
 * into its bridge: one process (unshare, which execs ip). On failure nothing is left.
 *
 * With `idMappings` (a --userns-remap container) the namespace is made inside a new user
 * namespace with those mappings, bound too, which the container then joins: a network namespace
 * its own user namespace owns is one it may mount sysfs for, write net.* sysctls in, and that
 * `runc exec` may enter, as with Docker, whose runtime makes both.
 */
export async function createSandbox(path: string, links: readonly EndpointLink[], idMappings?: IdMappings): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, '');
  try {
    const indexes = await Promise.all(links.map((link) => bridgeIndex(link.bridge)));
    const commands = ['link set lo up', ...links.flatMap((link, i) => sandboxSide(link, indexes[i]!))].join('\n') + '\n';
    if (idMappings) {
      const userPath = userNamespacePath(path);
      await mkdir(dirname(userPath), { recursive: true });
      await writeFile(userPath, '');
      await bindUserAndNetworkNamespaces(userPath, path, idMappings);
      // As the host's root (not in the new user namespace): the veth's host side goes to berthd's namespace.
      await run('nsenter', [`--net=${path}`, 'ip', '-batch', '-'], { input: commands });
    } else {
      await run('unshare', [`--net=${path}`, 'ip', '-batch', '-'], { input: commands });
    }
  } catch (error) {
    for (const link of links) bridgeIndexes.delete(link.bridge);
    await removeSandbox(path, links.map((link) => link.hostVeth));
    throw error;
  }
}

/**
 * A user namespace with these mappings and a network namespace it owns, bound at the two paths.
 * A process holds them while berthd writes its maps (as the host's root may, without newuidmap)
 * and binds them; then it goes.
 */
async function bindUserAndNetworkNamespaces(userPath: string, netPath: string, { uidMappings, gidMappings }: IdMappings): Promise<void> {
  const holder = spawn('unshare', ['--user', '--net', 'sleep', '60'], { stdio: 'ignore' });
  try {
    await new Promise<void>((resolve, reject) => { holder.once('spawn', resolve); holder.once('error', reject); });
    const pid = holder.pid!;
    // unshare execs sleep once the namespaces exist: wait until the process is in a user namespace of its own.
    const own = await readlink('/proc/self/ns/user');
    for (let tries = 0; (await readlink(`/proc/${pid}/ns/user`)) === own; tries++) {
      if (tries > 200) throw new Error('unshare did not make a user namespace');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const lines = (mappings: IdMappings['uidMappings']) => mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join('\n') + '\n';
    await writeFile(`/proc/${pid}/uid_map`, lines(uidMappings));
    await writeFile(`/proc/${pid}/gid_map`, lines(gidMappings));
    await run('mount', ['--bind', `/proc/${pid}/ns/user`, userPath]);
    await run('mount', ['--bind', `/proc/${pid}/ns/net`, netPath]);
  } finally {
    holder.kill('SIGKILL');
  }
}

/** Adds an endpoint to a namespace that exists (network connect on a running container). */
export async function addEndpoint(path: string, link: EndpointLink): Promise<void> {
  try {
    await run('nsenter', [`--net=${path}`, 'ip', '-batch', '-'], { input: containerSide(link).join('\n') + '\n' });
    await hostSide([link]);
  } catch (error) {
    await deleteLinks([link.hostVeth]);
    throw error;
  }
}

/** How long the kernel gets to free an unbound namespace's veths before they are deleted by hand. */
const VETH_RELEASE_MS = 1000;

/**
 * The namespace unbound and its file removed; its veths go with it when the kernel frees the
 * namespace, a moment later: one process (umount) instead of two, as each process costs berthd a
 * fork of itself. Returns once they are gone (sysfs, polled: no process), so that no address or
 * MAC comes back on the bridge while the old veth is still there; what the kernel has not freed
 * after a while (a namespace something else still holds) is deleted then.
 */
export async function removeSandbox(path: string, hostVeths: readonly string[] = []): Promise<void> {
  await Promise.all([path, userNamespacePath(path)].map(unbind));
  const deadline = Date.now() + VETH_RELEASE_MS;
  let left = hostVeths.filter(interfaceExists);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    left = left.filter(interfaceExists);
  }
  await deleteLinks(left);
}

async function unbind(bound: string): Promise<void> {
  if (!existsSync(bound)) return;
  await run('umount', ['-l', bound]).catch(() => undefined);
  await rm(bound, { force: true });
}

export async function setSysctl(path: string, value: string): Promise<void> {
  await writeFile(path, value).catch(() => undefined);
}
