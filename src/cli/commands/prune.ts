// container prune and system prune, with docker's prompts and output; system prune runs the
// container, network, volume and image prunes in docker's order and adds up what they reclaimed.
import { boolFlag, listFlag, type CommandSpec } from '../command.js';
import { humanSize } from '../../util/units.js';
import { confirm, deletedImagesSection } from './images.js';
import { filtersQuery } from './ps.js';
import { deletedSection } from './volumes.js';
import { prunedNetworks } from './networks.js';

const CONTAINER_PRUNE_WARNING = 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?';

const FILTER_FLAG = { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "until=<timestamp>")' } as const;
const FORCE_FLAG = { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' } as const;

export const containerPruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove all stopped containers',
  flags: [FILTER_FLAG, FORCE_FLAG],
  args: { max: 0 },
  async run(invocation) {
    if (!boolFlag(invocation.flags, 'force') && !(await confirm(CONTAINER_PRUNE_WARNING))) return 0;
    const report = await invocation.ctx.client().containerPrune(filtersQuery([...listFlag(invocation.flags, 'filter')]));
    process.stdout.write(`${deletedSection('Containers', report.ContainersDeleted)}Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};

/** docker 28's system prune question, listing only what berth prunes (it has no build cache). */
export function systemPruneWarning(options: { all: boolean; volumes: boolean; filters: readonly string[] }): string {
  const warnings = ['all stopped containers', 'all networks not used by at least one container'];
  if (options.volumes) warnings.push('all anonymous volumes not used by at least one container');
  warnings.push(options.all ? 'all images without at least one container associated to them' : 'all dangling images');
  let text = `WARNING! This will remove:\n${warnings.map((warning) => `  - ${warning}\n`).join('')}`;
  if (options.filters.length > 0) text += `\n  Items to be pruned will be filtered with:\n${options.filters.map((filter) => `  - ${filter}\n`).join('')}`;
  return `${text}\nAre you sure you want to continue?`;
}

export const systemPruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove unused data',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images not just dangling ones' },
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "label=<key>=<value>")' },
    FORCE_FLAG,
    { name: 'volumes', type: 'bool', description: 'Prune anonymous volumes' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const all = boolFlag(invocation.flags, 'all');
    const volumes = boolFlag(invocation.flags, 'volumes');
    const filters = [...listFlag(invocation.flags, 'filter')];
    if (!boolFlag(invocation.flags, 'force') && !(await confirm(systemPruneWarning({ all, volumes, filters })))) return 0;
    const client = invocation.ctx.client();
    let reclaimed = 0;
    const containers = await client.containerPrune(filtersQuery(filters));
    reclaimed += containers.SpaceReclaimed;
    process.stdout.write(deletedSection('Containers', containers.ContainersDeleted));
    process.stdout.write(prunedNetworks((await client.networkPrune(filtersQuery(filters))).NetworksDeleted));
    if (volumes) {
      const report = await client.volumePrune(filtersQuery(filters));
      reclaimed += report.SpaceReclaimed;
      process.stdout.write(deletedSection('Volumes', report.VolumesDeleted));
    }
    const images = await client.imagePrune(filtersQuery([...filters, `dangling=${all ? 'false' : 'true'}`]));
    reclaimed += images.SpaceReclaimed;
    process.stdout.write(`${deletedImagesSection(images)}Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
};
