// Which sysctls a container may set: those some namespace of its own holds. Shared by the
// CLI's --sysctl check (the docker CLI's opts.ValidateSysctl) and the daemon's create check.

/** Sysctls that live in the IPC namespace (runc's validSysctlMap, plus fs.mqueue.*). */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced',
]);

export const isIpcSysctl = (name: string): boolean => IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.');

/** The docker CLI's --sysctl check (28 words it "not allowed"): the error message, or undefined when `entry` (name=value) may be asked for. */
export function sysctlNotWhitelisted(entry: string): string | undefined {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? '' : entry.slice(0, eq);
  if (eq >= 0 && (isIpcSysctl(name) || name.startsWith('net.'))) return undefined;
  return `sysctl '${entry}' is not allowed`;
}
