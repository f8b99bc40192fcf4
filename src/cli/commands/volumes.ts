// volume create, ls, rm and prune, with docker's flags, tables and messages (inspect is in inspect.ts).
import type { Volume } from '../../wire/types.js';
import { boolFlag, forEachTarget, listFlag, stringFlag, type CommandSpec } from '../command.js';
import { keyValueMap } from '../flags.js';
import { chooseFormat, renderFormatted, sortedJson, StatusError } from '../output.js';
import { humanSize } from '../../util/units.js';
import { confirm } from './images.js';
import { FORMAT_HELP, filtersQuery } from './ps.js';

const DEFAULT_VOLUME_FORMAT = 'table {{.Driver}}\t{{.Name}}';
export const VOLUME_HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE',
  CreatedAt: 'CREATED AT', Availability: 'AVAILABILITY', Group: 'GROUP',
};

/** docker's volume formatter rows. */
export function volumeRow(volume: Volume): Record<string, unknown> {
  const labels = Object.entries(volume.Labels ?? {}).map(([key, value]) => `${key}=${value}`).join(',');
  return {
    Name: volume.Name, Driver: volume.Driver, Scope: volume.Scope, Mountpoint: volume.Mountpoint, Labels: labels,
    Links: volume.UsageData ? String(volume.UsageData.RefCount) : 'N/A', Size: volume.UsageData ? humanSize(volume.UsageData.Size) : 'N/A',
    CreatedAt: volume.CreatedAt, Availability: 'N/A', Group: 'N/A',
  };
}


export const volumeCreateCommand: CommandSpec = {
  name: 'create',
  usage: '[OPTIONS] [VOLUME]',
  description: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', type: 'string', description: 'Specify volume driver name', default: 'local' },
    { name: 'label', type: 'list', description: 'Set metadata for a volume' },
    { name: 'name', type: 'string', description: 'Specify volume name' },
    { name: 'opt', short: 'o', type: 'list', description: 'Set driver specific options' },
  ],
  args: { max: 1 },
  async run(invocation) {
    const { flags, args } = invocation;
    const flagName = stringFlag(flags, 'name') ?? '';
    if (args[0] && flagName && args[0] !== flagName) {
      throw new StatusError(1, `conflicting options: either specify --name or provide positional arg, not both`);
    }
    const volume = await invocation.ctx.client().volumeCreate({
      Name: args[0] ?? flagName, Driver: stringFlag(flags, 'driver') ?? 'local',
      DriverOpts: keyValueMap(listFlag(flags, 'opt')), Labels: keyValueMap(listFlag(flags, 'label')),
    });
    process.stdout.write(`${volume.Name}\n`);
    return 0;
  },
};

export const volumeListCommand: CommandSpec = {
  name: 'ls',
  usage: '[OPTIONS]',
  description: 'List volumes',
  aliases: ['volume ls', 'volume list'],
  flags: [
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: "Provide filter values (e.g. 'dangling=true')" },
    { name: 'format', type: 'string', description: FORMAT_HELP },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display volume names' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const { flags } = invocation;
    const response = await invocation.ctx.client().volumeList(filtersQuery(listFlag(flags, 'filter')));
    const volumes = [...(response.Volumes ?? [])].sort((a, b) => a.Name.localeCompare(b.Name));
    const format = chooseFormat({ format: stringFlag(flags, 'format') ?? '', defaultTable: DEFAULT_VOLUME_FORMAT, quiet: boolFlag(flags, 'quiet'), quietFormat: '{{.Name}}' });
    const rows = volumes.map(volumeRow);
    if (format === 'json') {
      process.stdout.write(rows.map((row) => sortedJson(row)).join('\n') + (rows.length > 0 ? '\n' : ''));
      return 0;
    }
    for (const warning of response.Warnings ?? []) process.stderr.write(`${warning}\n`);
    process.stdout.write(renderFormatted(format, rows, VOLUME_HEADERS));
    return 0;
  },
};

export const volumeRemoveCommand: CommandSpec = {
  name: 'rm',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Remove one or more volumes',
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the removal of one or more volumes' }],
  args: { min: 1 },
  run(invocation) {
    const client = invocation.ctx.client();
    const force = boolFlag(invocation.flags, 'force');
    return forEachTarget(invocation.args, async (name) => {
      await client.volumeRemove(name, force);
      return name;
    });
  },
};

const PRUNE_ANONYMOUS_WARNING = 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?';
const PRUNE_ALL_WARNING = 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?';

export const volumePruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove unused local volumes',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused volumes, not just anonymous ones' },
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "label=<label>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const all = boolFlag(invocation.flags, 'all');
    const filters = [...listFlag(invocation.flags, 'filter')];
    if (all) filters.push('all=true');
    if (!boolFlag(invocation.flags, 'force') && !(await confirm(all ? PRUNE_ALL_WARNING : PRUNE_ANONYMOUS_WARNING))) return 0;
    const report = await invocation.ctx.client().volumePrune(filtersQuery(filters));
    process.stdout.write(`${deletedSection('Volumes', report.VolumesDeleted)}Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};

/** "Deleted <Kind>:" with one name a line and a blank line, as docker's prunes print them; nothing when none went. */
export function deletedSection(kind: string, names: readonly string[] | null | undefined): string {
  return names && names.length > 0 ? `Deleted ${kind}:\n${names.map((name) => `${name}\n`).join('')}\n` : '';
}
