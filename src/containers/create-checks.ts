// Docker's checks of the values in a create request that the host config checks
// (validateHostConfig in spec.ts) do not cover: stop signal, working directory, health-check
// durations, ulimits, port and mount specifications. Pure: each throws badParameter with
// Docker's wording, before anything is stored.
import { badParameter } from '../errdefs/errors.js';
import { parseSignal } from '../util/signals.js';
import type { ApiMount, ContainerConfig, ContainerCreateRequest, HostConfig } from '../wire/types.js';
import { parseApiMount, parseBind } from '../volumes/mounts.js';

/** Docker's container.MinimumDuration for health-check intervals: 1ms, in nanoseconds. */
const MINIMUM_DURATION = 1e6;

/** The rlimits go-units knows (`--ulimit name=soft:hard`). */
const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

export function validateContainerConfig(config: ContainerConfig): void {
  if (config.StopSignal && parseSignal(config.StopSignal) === undefined) {
    throw badParameter(`invalid signal: ${config.StopSignal}`);
  }
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) {
    throw badParameter(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  const health = config.Healthcheck;
  if (health) {
    for (const field of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
      const value = (health as Record<string, number | undefined>)[field] ?? 0;
      if (value !== 0 && value < MINIMUM_DURATION) throw badParameter(`${field} in Healthcheck cannot be less than 1ms`);
    }
    if ((health.Retries ?? 0) < 0) throw badParameter('Retries in Healthcheck cannot be negative');
  }
  for (const port of Object.keys(config.ExposedPorts ?? {})) parsePortSpec(port);
}

export function validateUlimits(ulimits: HostConfig['Ulimits']): void {
  for (const ulimit of ulimits ?? []) {
    if (!ULIMIT_NAMES.has(ulimit.Name)) throw badParameter(`invalid ulimit type: ${ulimit.Name}`);
    if (ulimit.Soft > ulimit.Hard) throw badParameter(`ulimit soft limit must be less than or equal to hard limit: ${ulimit.Soft} > ${ulimit.Hard}`);
  }
}

/** "80", "80/tcp", "8000-8010/udp": Docker's nat.ParsePortSpec for a container port key. */
export function parsePortSpec(spec: string): { first: number; last: number; proto: string } {
  const slash = spec.indexOf('/');
  const range = slash < 0 ? spec : spec.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1).toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw badParameter(`invalid proto: ${proto}`);
  const parsed = parsePortRange(range, false);
  if (!parsed) throw badParameter(`invalid port specification: ${JSON.stringify(spec)}`);
  return { ...parsed, proto };
}

/** "8080", "8080-8090", or "" for any port on the host side. */
function parsePortRange(text: string, allowEmpty: boolean): { first: number; last: number } | undefined {
  if (text === '') return allowEmpty ? { first: 0, last: 0 } : undefined;
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!match) return undefined;
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  if (first > 65535 || last > 65535 || last < first || (!allowEmpty && first === 0)) return undefined;
  return { first, last };
}

export function validatePortBindings(bindings: HostConfig['PortBindings']): void {
  for (const [port, list] of Object.entries(bindings ?? {})) {
    parsePortSpec(port);
    for (const binding of list ?? []) {
      if (!parsePortRange(binding.HostPort ?? '', true)) throw badParameter(`invalid port specification: ${JSON.stringify(binding.HostPort)}`);
    }
  }
}

/** `-v` specs and `--mount` objects, checked as the volumes code will resolve them (Docker's words). */
export function validateBinds(binds: string[] | null | undefined): void {
  for (const bind of binds ?? []) parseBind(bind);
}

export function validateMounts(mounts: ApiMount[] | null | undefined): void {
  for (const mount of mounts ?? []) parseApiMount(mount);
}

/** The value checks of a decoded create request, before the host-config checks and anything stored. */
export function validateCreateRequest(request: ContainerCreateRequest): void {
  validateContainerConfig(request);
  const hostConfig = request.HostConfig ?? {};
  validateUlimits(hostConfig.Ulimits);
  validatePortBindings(hostConfig.PortBindings);
  validateBinds(hostConfig.Binds);
  validateMounts(hostConfig.Mounts);
}
