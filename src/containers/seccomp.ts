// Docker's seccomp profile format (conditional rules by arch, capability and kernel) turned into
// the OCI `linux.seccomp` section for one container, as moby's profiles/seccomp setupSeccomp
// does; and the loader for the built-in profile (Docker's default.json, shipped next to us).

import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OciSeccomp, OciSeccompAction, OciSeccompArg } from '../runtime/oci-types.js';

export interface DockerSeccompFilter {
  caps?: string[];
  arches?: string[];
  /** "<kernel>.<major>", e.g. "4.8" */
  minKernel?: string;
}

export interface DockerSeccompSyscall {
  names?: string[];
  /** Deprecated single-name form, still accepted by Docker. */
  name?: string;
  action: OciSeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[] | null;
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

export interface DockerSeccompProfile {
  defaultAction: OciSeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] | null }>;
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: DockerSeccompSyscall[];
}

export interface SeccompOptions {
  /** Node's process.arch ("x64", "arm64", ...) or a Go/libseccomp name ("amd64"). */
  arch: NodeJS.Architecture | string;
  /** The container's final capability set (bounding), e.g. ["CAP_CHOWN", ...]. */
  capabilities: string[];
  /** Host kernel release (`uname -r`) for minKernel rules; defaults to this host's. */
  kernelVersion?: string;
}

/** Node arch (and Go arch) -> the arch names used in profiles' includes/excludes. */
const PROFILE_ARCH: Record<string, string> = {
  x64: 'amd64', amd64: 'amd64',
  ia32: 'x86', '386': 'x86', x86: 'x86',
  arm: 'arm', arm64: 'arm64',
  ppc: 'ppc', ppc64: 'ppc64le', ppc64le: 'ppc64le',
  s390: 's390', s390x: 's390x',
  riscv64: 'riscv64', loong64: 'loong64',
  mips: 'mips', mipsel: 'mipsel', mips64: 'mips64', mips64el: 'mipsel64',
};

/** Profile arch name -> libseccomp arch, to pick the archMap entry. */
const SECCOMP_ARCH: Record<string, string> = {
  x86: 'SCMP_ARCH_X86', amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
  mips64: 'SCMP_ARCH_MIPS64', mipsel64: 'SCMP_ARCH_MIPSEL64', mipsel: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC', ppc64: 'SCMP_ARCH_PPC64', ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64', s390: 'SCMP_ARCH_S390', s390x: 'SCMP_ARCH_S390X',
};

export function profileArch(arch: string): string {
  return PROFILE_ARCH[arch] ?? arch;
}

function parseKernel(text: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(text);
  if (!match) throw new Error(`failed to parse kernel version "${text}"`);
  return [Number(match[1]), Number(match[2])];
}

function kernelAtLeast(running: string, minimum: string): boolean {
  const [kernel, major] = parseKernel(running);
  const [minKernel, minMajor] = parseKernel(minimum);
  return kernel > minKernel || (kernel === minKernel && major >= minMajor);
}

function ruleApplies(rule: DockerSeccompSyscall, arch: string, caps: Set<string>, kernel: string): boolean {
  const { excludes, includes } = rule;
  if (excludes) {
    if (excludes.arches?.includes(arch)) return false;
    if (excludes.caps?.some((cap) => caps.has(cap))) return false;
    if (excludes.minKernel && kernelAtLeast(kernel, excludes.minKernel)) return false;
  }
  if (includes) {
    if (includes.arches?.length && !includes.arches.includes(arch)) return false;
    if (includes.caps?.some((cap) => !caps.has(cap))) return false;
    if (includes.minKernel && !kernelAtLeast(kernel, includes.minKernel)) return false;
  }
  return true;
}

/** The OCI seccomp section for a container with these capabilities on this architecture. */
export function seccompFromDockerProfile(profile: DockerSeccompProfile, opts: SeccompOptions): OciSeccomp {
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new Error("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const arch = profileArch(opts.arch);
  const caps = new Set(opts.capabilities);
  const kernel = opts.kernelVersion ?? release();

  const result: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) result.defaultErrnoRet = profile.defaultErrnoRet;

  const architectures = [...(profile.architectures ?? [])];
  const seccompArch = SECCOMP_ARCH[arch];
  const mapped = profile.archMap?.find((entry) => entry.architecture === seccompArch);
  if (mapped) architectures.push(mapped.architecture, ...(mapped.subArchitectures ?? []));
  if (architectures.length > 0) result.architectures = architectures;

  if (profile.flags?.length) result.flags = [...profile.flags];
  if (profile.listenerPath) result.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) result.listenerMetadata = profile.listenerMetadata;

  const syscalls: NonNullable<OciSeccomp['syscalls']> = [];
  for (const rule of profile.syscalls ?? []) {
    if (rule.name && rule.names?.length) {
      throw new Error("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    }
    if (!ruleApplies(rule, arch, caps, kernel)) continue;
    const names = rule.name ? [rule.name] : [...(rule.names ?? [])];
    const syscall: NonNullable<OciSeccomp['syscalls']>[number] = { names, action: rule.action };
    if (rule.errnoRet !== undefined) syscall.errnoRet = rule.errnoRet;
    if (rule.args?.length) syscall.args = rule.args.map((arg) => ({ ...arg }));
    syscalls.push(syscall);
  }
  result.syscalls = syscalls;
  return result;
}

/** Parses a profile given as JSON text (e.g. `--security-opt seccomp=<file contents>`). */
export function parseSeccompProfile(json: string): DockerSeccompProfile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new Error(`Decoding seccomp profile failed: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('Decoding seccomp profile failed: not a JSON object');
  }
  return parsed as DockerSeccompProfile;
}

let defaultProfile: DockerSeccompProfile | undefined;

/**
 * Where seccomp-default.json can be, first match wins:
 * 1. next to the running module: the bundle dist/berthd.js has dist/seccomp-default.json
 *    (copied by scripts/build.mjs), and src/containers/seccomp.ts has it beside itself;
 * 2. the source copy seen from the tsc output (dist/tsc/src/containers -> src/containers)
 *    or from an uncopied bundle (dist/ -> src/containers);
 * 3. the source copy under the working directory (tests bundled elsewhere, e.g. /tmp).
 */
export function defaultProfileCandidates(moduleUrl: string = import.meta.url, cwd: string = process.cwd()): string[] {
  const nextTo = (relative: string) => fileURLToPath(new URL(relative, moduleUrl));
  return [
    nextTo('./seccomp-default.json'),
    nextTo('../../../../src/containers/seccomp-default.json'),
    nextTo('../src/containers/seccomp-default.json'),
    resolve(cwd, 'src/containers/seccomp-default.json'),
    resolve(cwd, 'dist/seccomp-default.json'),
  ];
}

/** Docker's default seccomp profile, read once. */
export function loadDefaultProfile(): DockerSeccompProfile {
  if (defaultProfile) return defaultProfile;
  const candidates = defaultProfileCandidates();
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`seccomp-default.json not found; looked at ${candidates.join(', ')}`);
  defaultProfile = parseSeccompProfile(readFileSync(found, 'utf8'));
  return defaultProfile;
}
