// The privilege-related create checks Docker makes (sysctls, cgroup and user namespace modes,
// device cgroup rules, privileged with a remapped root) and, at start, the namespaces a
// container joins from another one (--ipc container:x, --pid container:x). Checks are pure.
import { badParameter, conflict } from '../errdefs/errors.js';
import { isIpcSysctl } from '../util/sysctl.js';
import { parseDeviceCgroupRule } from './devices.js';
import type { SpecHostConfig } from './spec.js';

/**
 * HostConfig.Sysctls checked as runc checks them, but at create so that nothing is made: a
 * container may set only what its own namespaces hold (net.* in its network namespace, the IPC
 * ones in its IPC namespace; kernel.domainname in its UTS namespace).
 */
export function validateSysctls(hc: SpecHostConfig): void {
  const network = hc.NetworkMode ?? '';
  const ipc = hc.IpcMode ?? '';
  for (const name of Object.keys(hc.Sysctls ?? {})) {
    if (isIpcSysctl(name)) {
      if (ipc === 'host') throw badParameter(`sysctl ${JSON.stringify(name)} is not allowed in the hosts ipc namespace`);
      continue;
    }
    if (name.startsWith('net.')) {
      if (network === 'host') throw badParameter(`sysctl ${JSON.stringify(name)} is not allowed in the hosts network namespace`);
      continue;
    }
    if (name === 'kernel.domainname' && hc.UTSMode !== 'host') continue;
    if (name === 'kernel.hostname' && hc.UTSMode !== 'host') {
      throw badParameter(`sysctl ${JSON.stringify(name)} is not allowed as it conflicts with the OCI "hostname" field`);
    }
    throw badParameter(`sysctl ${JSON.stringify(name)} is not in a separate kernel namespace`);
  }
}

/** The other checks of namespace modes, device rules and user namespaces (moby verifyPlatformContainerSettings). */
export function validatePrivilegeOptions(hc: SpecHostConfig, daemon: { usernsRemap: boolean }): void {
  validateSysctls(hc);
  const cgroupns = hc.CgroupnsMode ?? '';
  if (!['', 'host', 'private'].includes(cgroupns)) throw badParameter(`invalid cgroup namespace mode: ${cgroupns}`);
  const userns = hc.UsernsMode ?? '';
  if (userns !== '' && userns !== 'host') throw badParameter(`invalid USER mode: ${userns}`);
  for (const rule of hc.DeviceCgroupRules ?? []) parseDeviceCgroupRule(rule);
  if (hc.Privileged && daemon.usernsRemap && userns !== 'host') {
    throw badParameter('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
  }
}

/** What start needs to know of a container whose namespaces another one joins; `shmPath` is its host-side /dev/shm. */
export interface NamespaceDonor { id: string; running: boolean; pid: number; ipcMode: string; shmPath: string }

export interface SharedNamespaces { ipcNamespacePath?: string; pidNamespacePath?: string; shmPath?: string }

/**
 * The namespace paths for `--ipc container:x` and `--pid container:x` (moby getIpcContainer,
 * getPidContainer): the donor must run, and lend its IPC only when it is shareable (or itself
 * host); its /dev/shm is the tmpfs mounted for it on the host (ShmHook).
 */
export function sharedNamespaces(hc: SpecHostConfig, find: (reference: string) => NamespaceDonor): SharedNamespaces {
  const shared: SharedNamespaces = {};
  const ipc = hc.IpcMode ?? '';
  if (ipc.startsWith('container:')) {
    const donor = find(ipc.slice('container:'.length));
    if (!donor.running) throw conflict(`cannot join IPC of a non running container: ${donor.id}`);
    if (donor.ipcMode !== 'shareable' && donor.ipcMode !== 'host') {
      throw badParameter('non-shareable IPC (hint: use IpcMode:shareable for the donor container)');
    }
    shared.ipcNamespacePath = `/proc/${donor.pid}/ns/ipc`;
    shared.shmPath = donor.ipcMode === 'host' ? '/dev/shm' : donor.shmPath;
  }
  const pid = hc.PidMode ?? '';
  if (pid.startsWith('container:')) {
    const donor = find(pid.slice('container:'.length));
    if (!donor.running) throw conflict(`cannot join PID of a non running container: ${donor.id}`);
    shared.pidNamespacePath = `/proc/${donor.pid}/ns/pid`;
  }
  return shared;
}
