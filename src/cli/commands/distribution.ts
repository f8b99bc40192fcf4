// berth pull / berth push: send the request and show the daemon's progress messages as the
// docker CLI does (rewritten in place on a terminal, line by line otherwise, nothing with -q);
// an error in the stream ends the command with status 1.

import { boolFlag, stringFlag } from '../command.js';
import type { CommandSpec } from '../command.js';
import type { JsonMessage } from '../../client/engine-client.js';
import { readJsonLines } from '../../client/engine-client.js';
import { displayProgressStream, StatusError } from '../output.js';
import { familiarName, parseReference, pullQuery, ReferenceError } from '../reference.js';
import { registryAuthHeader } from '../credentials.js';

/** reference.FamiliarString's inverse for the last line of docker pull: "docker.io/library/busybox:latest". */
function fullyQualified(name: string): string {
  const first = name.split('/')[0]!;
  const hasDomain = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasDomain) return name;
  return `docker.io/${name.includes('/') ? name : `library/${name}`}`;
}

function parseOrFail(text: string): ReturnType<typeof parseReference> {
  try {
    return parseReference(text);
  } catch (err) {
    if (err instanceof ReferenceError) throw new StatusError(1, `invalid reference format${err.message.startsWith('invalid reference format:') ? err.message.slice('invalid reference format'.length) : ''}`);
    throw err;
  }
}


export const pullCommand: CommandSpec = {
  name: 'pull',
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  aliases: ['image pull', 'pull'],
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', type: 'bool', default: true, description: 'Skip image verification' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const text = invocation.args[0]!;
    const quiet = boolFlag(invocation.flags, 'quiet');
    const allTags = boolFlag(invocation.flags, 'all-tags');
    const platform = stringFlag(invocation.flags, 'platform') ?? process.env.DOCKER_DEFAULT_PLATFORM ?? '';
    const ref = parseOrFail(text);
    const nameOnly = ref.tag === undefined && ref.digest === undefined;
    if (allTags && !nameOnly) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    if (!allTags && nameOnly && !quiet) process.stdout.write('Using default tag: latest\n');
    // Without a tag the daemon pulls every tag.
    const query: Record<string, string> = allTags ? { fromImage: familiarName(ref.name) } : pullQuery(text);
    if (platform) query.platform = platform.toLowerCase();
    // The stored credentials for the image's registry go along, as the docker CLI sends them.
    const response = await invocation.ctx.client().request('POST', '/images/create', { query, headers: { 'X-Registry-Auth': await registryAuthHeader(ref.name) } });
    const messages = readJsonLines<JsonMessage>(response);
    await displayProgressStream(messages, (text) => { if (!quiet) process.stdout.write(text); }, 1, process.stdout);
    let shown = fullyQualified(ref.name);
    if (ref.digest !== undefined) shown += `@${ref.digest}`;
    else if (!allTags) shown += `:${ref.tag ?? 'latest'}`;
    process.stdout.write(`${shown}\n`);
    return 0;
  },
};

export const pushCommand: CommandSpec = {
  name: 'push',
  usage: '[OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  aliases: ['image push', 'push'],
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: 'bool', default: true, description: 'Skip image signing' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const text = invocation.args[0]!;
    const quiet = boolFlag(invocation.flags, 'quiet');
    const allTags = boolFlag(invocation.flags, 'all-tags');
    const ref = parseOrFail(text);
    if (ref.digest !== undefined) throw new StatusError(1, 'cannot push a digest reference');
    if (allTags && ref.tag !== undefined) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    if (!allTags && ref.tag === undefined && !quiet) process.stdout.write('Using default tag: latest\n');
    const name = familiarName(ref.name);
    const tag = allTags ? '' : ref.tag ?? 'latest';
    const path = `/images/${name.split('/').map(encodeURIComponent).join('/').replace(/%3A/gi, ':')}/push`;
    const response = await invocation.ctx.client().request('POST', path, { query: { tag }, headers: { 'X-Registry-Auth': await registryAuthHeader(name) } });
    await displayProgressStream(readJsonLines<JsonMessage>(response), (text) => { if (!quiet) process.stdout.write(text); }, 1, process.stdout);
    if (quiet) process.stdout.write(`${fullyQualified(name)}${tag ? `:${tag}` : ''}\n`);
    return 0;
  },
};
