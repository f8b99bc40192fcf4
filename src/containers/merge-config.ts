// Container create: the image's run configuration is the default for whatever the create
// request leaves out, as Docker's daemon merges them (moby daemon/commit.go `merge` and
// create.go `mergeAndVerifyConfig`); and the Path/Args that inspect shows.

import type { ContainerConfig, HealthConfig } from '../wire/types.js';
import { badParameter } from '../errdefs/errors.js';

const isUnset = <T>(list: T[] | null | undefined): boolean => list === undefined || list === null;
const isEmpty = <T>(list: T[] | null | undefined): boolean => !list || list.length === 0;

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

function mergeEnv(image: string[] | null | undefined, user: string[] | null | undefined): string[] | null | undefined {
  if (isEmpty(user)) return image ? [...image] : image;
  const merged = [...(user as string[])];
  const userKeys = new Set(merged.map(envKey));
  for (const entry of image ?? []) {
    if (!userKeys.has(envKey(entry))) merged.push(entry);
  }
  return merged;
}

function mergeSet<V>(
  image: Record<string, V> | null | undefined,
  user: Record<string, V> | null | undefined,
): Record<string, V> | null | undefined {
  if (!user || Object.keys(user).length === 0) return image ? { ...image } : image;
  return { ...user, ...(image ?? {}) };
}

function mergeHealthcheck(image: HealthConfig | undefined, user: HealthConfig | undefined): HealthConfig | undefined {
  if (!image) return user;
  if (!user) return { ...image };
  const merged: HealthConfig = { ...user };
  if (isEmpty(user.Test) && image.Test) merged.Test = image.Test;
  for (const field of ['Interval', 'Timeout', 'StartPeriod', 'Retries'] as const) {
    if (!user[field] && image[field] !== undefined) merged[field] = image[field];
  }
  return merged;
}

/**
 * The container's Config: the create request's config with the image's config as defaults.
 * Does not modify its arguments.
 */
export function mergeImageConfig(image: ContainerConfig | undefined, create: ContainerConfig): ContainerConfig {
  const merged: ContainerConfig = { ...create };
  if (image) {
    merged.User = create.User || image.User;
    merged.ExposedPorts = mergeSet(image.ExposedPorts, create.ExposedPorts);
    merged.Env = mergeEnv(image.Env, create.Env);
    merged.Labels = { ...(image.Labels ?? {}), ...(create.Labels ?? {}) };
    // A user Entrypoint (even [""], "reset") discards the image's Cmd unless the user gives a
    // Cmd too; an explicit empty Entrypoint list keeps the image's Cmd but not its Entrypoint.
    if (isEmpty(create.Entrypoint)) {
      if (isEmpty(create.Cmd)) merged.Cmd = image.Cmd ? [...image.Cmd] : image.Cmd;
      if (isUnset(create.Entrypoint)) merged.Entrypoint = image.Entrypoint ? [...image.Entrypoint] : image.Entrypoint;
    }
    merged.Healthcheck = mergeHealthcheck(image.Healthcheck, create.Healthcheck);
    merged.WorkingDir = create.WorkingDir || image.WorkingDir;
    merged.Volumes = mergeSet(image.Volumes, create.Volumes);
    merged.StopSignal = create.StopSignal || image.StopSignal;
  } else if (!merged.Labels) {
    merged.Labels = {};
  }
  // Docker marshals label maps with sorted keys; keep that order so inspect and `json` match it.
  merged.Labels = Object.fromEntries(Object.entries(merged.Labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  if (merged.Entrypoint && merged.Entrypoint.length === 1 && merged.Entrypoint[0] === '') {
    merged.Entrypoint = null;
  }
  return merged;
}

/** Throws Docker's 400 "No command specified" when the merged config runs nothing. */
export function assertHasCommand(config: ContainerConfig): void {
  if (isEmpty(config.Entrypoint) && isEmpty(config.Cmd)) {
    throw badParameter('No command specified');
  }
}

/** Path and Args as container inspect reports them: Entrypoint + Cmd, split at the first word. */
export function commandLine(config: ContainerConfig): { path: string; args: string[] } {
  assertHasCommand(config);
  const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  return { path: argv[0], args: argv.slice(1) };
}
