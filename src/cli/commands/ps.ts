// `berth ps` (container ls): list containers with docker's columns, filters and formats.

import { encodeFilters } from '../../client/engine-client.js';
import { boolFlag, intFlag, listFlag, stringFlag } from '../command.js';
import type { CommandSpec } from '../command.js';
import { chooseFormat, renderFormatted, sortedJson, StatusError } from '../output.js';
import { containerRow, DEFAULT_PS_FORMAT, PS_HEADERS } from './ps-format.js';

export const FORMAT_HELP =
  "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

export function filtersQuery(filters: string[]): string | undefined {
  try {
    return encodeFilters(filters);
  } catch (err) {
    throw new StatusError(1, (err as Error).message);
  }
}

export const psCommand: CommandSpec = {
  name: 'ps',
  usage: '[OPTIONS]',
  description: 'List containers',
  aliases: ['container ls', 'container list', 'container ps', 'ps'],
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: FORMAT_HELP },
    { name: 'last', short: 'n', type: 'int', default: -1, description: 'Show n last created containers (includes all states)' },
    { name: 'latest', short: 'l', type: 'bool', description: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
    { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const { flags } = invocation;
    const quiet = boolFlag(flags, 'quiet');
    let format = stringFlag(flags, 'format') ?? '';
    let size = boolFlag(flags, 'size');
    let defaultTable = DEFAULT_PS_FORMAT;
    if (size) defaultTable += '\t{{.Size}}';
    format = chooseFormat({ format, defaultTable, quiet });
    // Sizes are expensive; docker asks for them when the template uses them.
    if (!quiet && format.includes('.Size')) size = true;
    let limit = intFlag(flags, 'last') ?? -1;
    if (boolFlag(flags, 'latest')) limit = 1;
    const containers = await invocation.ctx.client().containerList({
      all: boolFlag(flags, 'all') || limit > 0,
      limit: limit > 0 ? limit : undefined,
      size,
      filters: filtersQuery(listFlag(flags, 'filter')),
    });
    const trunc = !boolFlag(flags, 'no-trunc');
    const now = Date.now();
    const rows = containers.map((container) => {
      const row = containerRow(container, { trunc, now });
      if (format === 'json') {
        const { Label: _label, ...fields } = row;
        return { json: sortedJson(fields) };
      }
      return row;
    });
    const output = format === 'json' ? rows.map((row) => `${(row as { json: string }).json}\n`).join('') : renderFormatted(format, rows, PS_HEADERS);
    process.stdout.write(output);
    return 0;
  },
};
