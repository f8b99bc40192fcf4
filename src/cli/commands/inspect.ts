// `berth inspect` (any object: container, then image) and `berth container inspect` /
// `berth image inspect`: a JSON array indented like docker's, or one template per object.

import { ClientError } from '../../client/engine-client.js';
import type { EngineClient } from '../../client/engine-client.js';
import { boolFlag, stringFlag } from '../command.js';
import type { CommandSpec, Invocation } from '../command.js';
import { StatusError } from '../output.js';
import { compileTemplate } from '../template.js';

type Finder = (client: EngineClient, ref: string, size: boolean) => Promise<unknown>;

const findContainer: Finder = (client, ref, size) =>
  client.json<unknown>('GET', `/containers/${encodeURIComponent(ref)}/json`, { query: { size } });
const findVolume: Finder = (client, ref) => client.json<unknown>('GET', `/volumes/${encodeURIComponent(ref)}`);
const findNetwork: Finder = (client, ref) => client.networkInspect(ref);
const findImage: Finder = (client, ref) => client.json<unknown>('GET', `/images/${ref.split('/').map(encodeURIComponent).join('/')}/json`);

/** Go's json.Indent of the daemon's bytes: 4-space indent, HTML characters still escaped as Go's encoder sends them. */
export function indentJson(values: unknown[]): string {
  if (values.length === 0) return '[]\n';
  const text = JSON.stringify(values, null, 4)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return text + '\n';
}

function isNotFound(err: unknown): boolean {
  return err instanceof ClientError && (err.status === 404 || err.message.includes('invalid reference format'));
}

async function inspectObjects(invocation: Invocation, finders: Finder[], notFound: (ref: string, err: unknown) => string): Promise<number> {
  const { flags, args } = invocation;
  const client = invocation.ctx.client();
  const size = boolFlag(flags, 'size');
  const format = stringFlag(flags, 'format') ?? '';
  let render: ((data: unknown) => string) | undefined;
  if (format !== '') {
    try {
      render = compileTemplate(format === 'json' ? '{{json .}}' : format);
    } catch (err) {
      throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
    }
  }
  const found: unknown[] = [];
  const errors: string[] = [];
  let rendered = '';
  for (const ref of args) {
    let value: unknown;
    let lastError: unknown;
    for (const finder of finders) {
      try {
        value = await finder(client, ref, size);
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err;
        if (!isNotFound(err)) break;
      }
    }
    if (value === undefined) {
      errors.push(lastError && !isNotFound(lastError) ? (lastError as Error).message : notFound(ref, lastError));
      continue;
    }
    if (render) {
      try {
        rendered += render(value) + '\n';
      } catch (err) {
        errors.push(`template parsing error: ${(err as Error).message}`);
      }
    } else {
      found.push(value);
    }
  }
  process.stdout.write(render ? rendered : indentJson(found));
  if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  return 0;
}

const INSPECT_FORMAT_HELP =
  "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on Docker objects',
  flags: [
    { name: 'format', short: 'f', type: 'string', description: INSPECT_FORMAT_HELP },
    { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', description: 'Return JSON for specified type' },
  ],
  args: { min: 1 },
  run(invocation) {
    const type = stringFlag(invocation.flags, 'type') ?? '';
    if (invocation.changed.has('type') && type === '') {
      throw new StatusError(1, 'type is empty: must be one of "config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"');
    }
    let finders: Finder[];
    if (type === '') finders = [findContainer, findImage, findNetwork];
    else if (type === 'container') finders = [findContainer];
    else if (type === 'image') finders = [findImage];
    else if (type === 'volume') finders = [findVolume];
    else if (type === 'network') finders = [findNetwork];
    else if (['config', 'node', 'plugin', 'secret', 'service', 'task'].includes(type)) finders = [];
    else {
      throw new StatusError(1, `"${type}" is not a valid value for --type`);
    }
    // With --type, the daemon's own not-found error is shown, as docker's inspectAll returns it.
    return inspectObjects(invocation, finders, (ref, err) => (type !== '' && err instanceof Error ? err.message : `Error: No such object: ${ref}`));
  },
};

export const containerInspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Display detailed information on one or more containers',
  flags: [
    { name: 'format', short: 'f', type: 'string', description: INSPECT_FORMAT_HELP },
    { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
  ],
  args: { min: 1 },
  run(invocation) {
    return inspectObjects(invocation, [findContainer], (ref, err) => (err instanceof Error ? err.message : `Error: No such container: ${ref}`));
  },
};

export const imageInspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Display detailed information on one or more images',
  flags: [{ name: 'format', short: 'f', type: 'string', description: INSPECT_FORMAT_HELP }],
  args: { min: 1 },
  run(invocation) {
    return inspectObjects(invocation, [findImage], (ref, err) => (err instanceof Error ? err.message : `Error: No such image: ${ref}`));
  },
};

export const volumeInspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  flags: [{ name: 'format', short: 'f', type: 'string', description: INSPECT_FORMAT_HELP }],
  args: { min: 1 },
  run(invocation) {
    return inspectObjects(invocation, [findVolume], (ref, err) => (err instanceof Error ? err.message : `Error: No such volume: ${ref}`));
  },
};

export const networkInspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  flags: [
    { name: 'format', short: 'f', type: 'string', description: INSPECT_FORMAT_HELP },
    { name: 'verbose', short: 'v', type: 'bool', description: 'Verbose output for diagnostics' },
  ],
  args: { min: 1 },
  run(invocation) {
    const verbose = boolFlag(invocation.flags, 'verbose');
    const find: Finder = (client, ref) => client.networkInspect(ref, verbose);
    return inspectObjects(invocation, [find], (ref, err) => (err instanceof Error ? err.message : `Error: No such network: ${ref}`));
  },
};
