// System commands: version (Client:/Server: sections), info and events, laid out like the
// docker CLI's.

import type { EventMessage, VersionResponse } from '../../wire/types.js';
import type { SystemInfo } from '../../client/engine-client.js';
import { API_VERSION } from '../../client/engine-client.js';
import { listFlag, stringFlag, timestampFlag } from '../command.js';
import type { CommandSpec } from '../command.js';
import { formatRfc3339NanoFixed, splitTimeNano, StatusError } from '../output.js';
import { tabwrite } from '../table.js';
import { compileTemplate } from '../template.js';
import { hostArchitecture } from '../../util/host-arch.js';
import { bytesSize } from '../../util/units.js';
import { BERTH_GIT_COMMIT, BERTH_VERSION } from '../version-info.js';
import { filtersQuery } from './ps.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** reformatDate: an RFC 3339 build time as Go's time.ANSIC ("Mon Jan  2 15:04:05 2006"), in UTC as parsed. */
export function reformatDate(buildTime: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(buildTime);
  if (!match) return buildTime;
  const [, year, month, day, hour, minute, second] = match;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return `${DAYS[date.getUTCDay()]} ${MONTHS[Number(month) - 1]} ${String(Number(day)).padStart(2, ' ')} ${hour}:${minute}:${second} ${year}`;
}

interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

function clientVersion(context: string): Record<string, unknown> {
  return {
    Platform: { Name: '' },
    Version: BERTH_VERSION,
    APIVersion: API_VERSION,
    DefaultAPIVersion: API_VERSION,
    GitCommit: BERTH_GIT_COMMIT,
    GoVersion: process.version,
    Os: process.platform,
    Arch: hostArchitecture(),
    BuildTime: '',
    Context: context,
  };
}

function serverVersion(response: VersionResponse): Record<string, unknown> & { Components: ComponentVersion[] } {
  const components: ComponentVersion[] = (response.Components ?? []).map((component) => {
    const details = { ...(component.Details ?? {}) };
    if (component.Name === 'Engine' && details.BuildTime) details.BuildTime = reformatDate(details.BuildTime);
    return { ...component, Details: details };
  });
  if (!components.some((component) => component.Name === 'Engine')) {
    components.unshift({
      Name: 'Engine',
      Version: response.Version,
      Details: {
        ApiVersion: response.ApiVersion,
        MinAPIVersion: response.MinAPIVersion,
        GitCommit: response.GitCommit,
        GoVersion: response.GoVersion,
        Os: response.Os,
        Arch: response.Arch,
        KernelVersion: response.KernelVersion,
        BuildTime: reformatDate(response.BuildTime ?? ''),
        Experimental: 'false',
      },
    });
  }
  return { ...response, Components: components };
}

/** The default `version` layout (docker's defaultVersionTemplate), before tab alignment. */
export function versionText(client: Record<string, unknown>, server: (Record<string, unknown> & { Components: ComponentVersion[] }) | undefined): string {
  const lines: string[] = [];
  lines.push('Client:');
  lines.push(` Version:\t${client.Version}`);
  lines.push(` API version:\t${client.APIVersion}`);
  lines.push(` Go version:\t${client.GoVersion}`);
  lines.push(` Git commit:\t${client.GitCommit}`);
  lines.push(` Built:\t${client.BuildTime}`);
  lines.push(` OS/Arch:\t${client.Os}/${client.Arch}`);
  lines.push(` Context:\t${client.Context}`);
  if (server) {
    const platform = (server.Platform as { Name?: string } | undefined)?.Name;
    lines.push('');
    lines.push(`Server:${platform ? ` ${platform}` : ''}`);
    for (const component of server.Components) {
      const details = component.Details ?? {};
      lines.push(` ${component.Name}:`);
      if (component.Name === 'Engine') {
        lines.push(`  Version:\t${component.Version}`);
        lines.push(`  API version:\t${details.ApiVersion ?? ''} (minimum version ${details.MinAPIVersion ?? ''})`);
        lines.push(`  Go version:\t${details.GoVersion ?? ''}`);
        lines.push(`  Git commit:\t${details.GitCommit ?? ''}`);
        lines.push(`  Built:\t${details.BuildTime ?? ''}`);
        lines.push(`  OS/Arch:\t${details.Os ?? ''}/${details.Arch ?? ''}`);
        lines.push(`  Experimental:\t${details.Experimental ?? 'false'}`);
      } else {
        lines.push(`  Version:\t${component.Version}`);
        for (const key of Object.keys(details).sort()) lines.push(`  ${key}:\t${details[key]}`);
      }
    }
  }
  return tabwrite(lines.join('\n') + '\n', { minWidth: 20, padding: 1, padChar: ' ' });
}

export const versionCommand: CommandSpec = {
  name: 'version',
  usage: '[OPTIONS]',
  description: 'Show the Docker version information',
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  args: { max: 0 },
  async run(invocation) {
    const format = stringFlag(invocation.flags, 'format') ?? '';
    let render: ((data: unknown) => string) | undefined;
    if (format !== '') {
      try {
        render = compileTemplate(format === 'json' ? '{{json .}}' : format);
      } catch (err) {
        throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
      }
    }
    const client = clientVersion(invocation.ctx.contextName);
    let server: ReturnType<typeof serverVersion> | undefined;
    let failure: unknown;
    try {
      server = serverVersion(await invocation.ctx.client().version());
    } catch (err) {
      failure = err;
    }
    if (render) {
      try {
        process.stdout.write(render({ Client: client, Server: server ?? null }) + '\n');
      } catch (err) {
        if (!failure) throw new StatusError(1, `template: ${(err as Error).message}`);
      }
    } else {
      process.stdout.write(versionText(client, server));
    }
    if (failure) throw failure;
    return 0;
  },
};

function field<T>(info: SystemInfo, key: string): T | undefined {
  return info[key] as T | undefined;
}

/** docker info's "Server:" section for the fields the daemon reports. */
export function infoText(info: SystemInfo): string {
  const out: string[] = [];
  const line = (label: string, value: unknown): void => {
    out.push(`${label} ${value === undefined || value === null ? '' : String(value)}`.replace(/ $/, ''));
  };
  const nonEmpty = (label: string, value: unknown): void => {
    if (value !== undefined && value !== null && value !== '') line(label, value);
  };
  line(' Containers:', field(info, 'Containers') ?? 0);
  line('  Running:', field(info, 'ContainersRunning') ?? 0);
  line('  Paused:', field(info, 'ContainersPaused') ?? 0);
  line('  Stopped:', field(info, 'ContainersStopped') ?? 0);
  line(' Images:', field(info, 'Images') ?? 0);
  nonEmpty(' Server Version:', field(info, 'ServerVersion'));
  nonEmpty(' Storage Driver:', field(info, 'Driver'));
  for (const [key, value] of field<Array<[string, string]>>(info, 'DriverStatus') ?? []) out.push(`  ${key}: ${value}`);
  for (const [key, value] of field<Array<[string, string]>>(info, 'SystemStatus') ?? []) out.push(` ${key}: ${value}`);
  nonEmpty(' Logging Driver:', field(info, 'LoggingDriver'));
  nonEmpty(' Cgroup Driver:', field(info, 'CgroupDriver'));
  nonEmpty(' Cgroup Version:', field(info, 'CgroupVersion'));
  const plugins = field<{ Volume?: string[]; Network?: string[]; Authorization?: string[]; Log?: string[] }>(info, 'Plugins') ?? {};
  out.push(' Plugins:');
  line('  Volume:', (plugins.Volume ?? []).join(' '));
  line('  Network:', (plugins.Network ?? []).join(' '));
  if ((plugins.Authorization ?? []).length > 0) line('  Authorization:', (plugins.Authorization ?? []).join(' '));
  line('  Log:', (plugins.Log ?? []).join(' '));
  const swarm = field<{ LocalNodeState?: string }>(info, 'Swarm');
  line(' Swarm:', swarm?.LocalNodeState ?? 'inactive');
  const runtimes = field<Record<string, unknown>>(info, 'Runtimes');
  if (runtimes && Object.keys(runtimes).length > 0) {
    line(' Runtimes:', Object.keys(runtimes).sort().join(' '));
    line(' Default Runtime:', field(info, 'DefaultRuntime') ?? '');
  }
  const initBinary = field<string>(info, 'InitBinary');
  if (initBinary !== undefined) {
    line(' Init Binary:', initBinary);
    line(' containerd version:', field<{ ID?: string }>(info, 'ContainerdCommit')?.ID ?? '');
    line(' runc version:', field<{ ID?: string }>(info, 'RuncCommit')?.ID ?? '');
    line(' init version:', field<{ ID?: string }>(info, 'InitCommit')?.ID ?? '');
  }
  const securityOptions = field<string[]>(info, 'SecurityOptions') ?? [];
  if (securityOptions.length > 0) {
    out.push(' Security Options:');
    for (const option of securityOptions) {
      const pairs = option.split(',').map((pair) => pair.split('=') as [string, string?]);
      const name = pairs.find(([key]) => key === 'name')?.[1] ?? option;
      out.push(`  ${name}`);
      for (const [key, value] of pairs) {
        if (key === 'name') continue;
        out.push(`   ${key.charAt(0).toUpperCase()}${key.slice(1)}: ${value ?? ''}`);
      }
    }
  }
  nonEmpty(' Kernel Version:', field(info, 'KernelVersion'));
  nonEmpty(' Operating System:', field(info, 'OperatingSystem'));
  nonEmpty(' OSType:', field(info, 'OSType'));
  nonEmpty(' Architecture:', field(info, 'Architecture'));
  line(' CPUs:', field(info, 'NCPU') ?? 0);
  line(' Total Memory:', bytesSize(field<number>(info, 'MemTotal') ?? 0));
  nonEmpty(' Name:', field(info, 'Name'));
  nonEmpty(' ID:', field(info, 'ID'));
  line(' Docker Root Dir:', field(info, 'DockerRootDir') ?? '');
  line(' Debug Mode:', field(info, 'Debug') ?? false);
  nonEmpty(' HTTP Proxy:', field(info, 'HttpProxy'));
  nonEmpty(' HTTPS Proxy:', field(info, 'HttpsProxy'));
  nonEmpty(' No Proxy:', field(info, 'NoProxy'));
  const labels = field<string[]>(info, 'Labels') ?? [];
  if (labels.length > 0) {
    out.push(' Labels:');
    for (const label of labels) out.push(`  ${label}`);
  }
  line(' Experimental:', field(info, 'ExperimentalBuild') ?? false);
  const registry = field<{ InsecureRegistryCIDRs?: string[]; IndexConfigs?: Record<string, { Name: string; Secure: boolean }>; Mirrors?: string[] }>(info, 'RegistryConfig');
  if (registry) {
    const insecureIndexes = Object.values(registry.IndexConfigs ?? {}).filter((index) => !index.Secure);
    const cidrs = registry.InsecureRegistryCIDRs ?? [];
    if (insecureIndexes.length > 0 || cidrs.length > 0) {
      out.push(' Insecure Registries:');
      for (const index of insecureIndexes) out.push(`  ${index.Name}`);
      for (const cidr of cidrs) out.push(`  ${cidr}`);
    }
    if ((registry.Mirrors ?? []).length > 0) {
      out.push(' Registry Mirrors:');
      for (const mirror of registry.Mirrors ?? []) out.push(`  ${mirror}`);
    }
  }
  line(' Live Restore Enabled:', field(info, 'LiveRestoreEnabled') ?? false);
  return out.join('\n') + '\n';
}

export const infoCommand: CommandSpec = {
  name: 'info',
  usage: '[OPTIONS]',
  description: 'Display system-wide information',
  aliases: ['system info', 'info'],
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  args: { max: 0 },
  async run(invocation) {
    const format = stringFlag(invocation.flags, 'format') ?? '';
    const clientInfo = { Debug: invocation.ctx.debug, Version: BERTH_VERSION, Context: invocation.ctx.contextName, Plugins: [], Warnings: null };
    if (format !== '') {
      let render: (data: unknown) => string;
      try {
        render = compileTemplate(format === 'json' ? '{{json .}}' : format);
      } catch (err) {
        throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
      }
      const info = await invocation.ctx.client().info();
      process.stdout.write(render({ ...info, ClientInfo: clientInfo }) + '\n');
      return 0;
    }
    process.stdout.write(`Client:\n Version:    ${BERTH_VERSION}\n Context:    ${invocation.ctx.contextName}\n Debug Mode: ${invocation.ctx.debug}\n\nServer:\n`);
    let info: SystemInfo;
    try {
      info = await invocation.ctx.client().info();
    } catch (err) {
      process.stderr.write(`ERROR: ${(err as Error).message}\nerrors pretty printing info\n`);
      return 1;
    }
    process.stdout.write(infoText(info) + '\n');
    for (const warning of field<string[]>(info, 'Warnings') ?? []) process.stderr.write(`${warning}\n`);
    return 0;
  },
};

/** One event line as docker's prettyPrintEvent writes it; `timeNano` is the raw decimal from the JSON. */
export function formatEventLine(event: EventMessage, timeNano?: string, offsetMinutes?: number): string {
  let line = '';
  if (timeNano && timeNano !== '0') {
    const { seconds, nanos } = splitTimeNano(timeNano);
    line += `${formatRfc3339NanoFixed(seconds, nanos, offsetMinutes)} `;
  } else if (event.time) {
    line += `${formatRfc3339NanoFixed(event.time, 0, offsetMinutes)} `;
  }
  line += `${event.Type} ${event.Action} ${event.Actor?.ID ?? ''}`;
  const attributes = event.Actor?.Attributes ?? {};
  const keys = Object.keys(attributes).sort();
  if (keys.length > 0) line += ` (${keys.map((key) => `${key}=${attributes[key]}`).join(', ')})`;
  return line + '\n';
}

export const eventsCommand: CommandSpec = {
  name: 'events',
  usage: '[OPTIONS]',
  description: 'Get real time events from the server',
  aliases: ['system events', 'events'],
  flags: [
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'since', type: 'string', description: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', description: 'Stream events until this timestamp' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const { flags } = invocation;
    const format = stringFlag(flags, 'format') ?? '';
    let render: ((data: unknown) => string) | undefined;
    if (format !== '') {
      try {
        render = compileTemplate(format === 'json' ? '{{json .}}' : format);
      } catch (err) {
        throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
      }
    }
    const now = new Date();
    const timestamp = (name: string): string | undefined => timestampFlag(flags, name, now);
    const events = await invocation.ctx.client().events({
      since: timestamp('since'),
      until: timestamp('until'),
      filters: filtersQuery(listFlag(flags, 'filter')),
    });
    for await (const { value, raw } of events) {
      if (render) {
        process.stdout.write(render(value) + '\n');
        continue;
      }
      const timeNano = /"timeNano"\s*:\s*(\d+)/.exec(raw)?.[1];
      process.stdout.write(formatEventLine(value, timeNano));
    }
    return 0;
  },
};
