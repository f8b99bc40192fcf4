// berth pull / berth push: send the request and print the daemon's progress messages line by
// line (docker's non-TTY output); an error in the stream ends the command with status 1.

import { boolFlag } from '../command.js';
import type { CommandSpec } from '../command.js';
import type { JsonMessage } from '../../client/engine-client.js';
import { readJsonLines } from '../../client/engine-client.js';
import { displayProgressStream, StatusError } from '../output.js';
import { familiarName, parseReference, pullQuery, ReferenceError } from '../reference.js';

/** Docker's client sends an (empty) auth header; registries without auth ignore it. */
const EMPTY_AUTH = Buffer.from('{}').toString('base64url');

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
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const text = invocation.args[0]!;
    const quiet = boolFlag(invocation.flags, 'quiet');
    const ref = parseOrFail(text);
    if (ref.tag === undefined && ref.digest === undefined && !quiet) process.stdout.write('Using default tag: latest\n');
    const messages = await invocation.ctx.client().imageCreate(pullQuery(text));
    await displayProgressStream(messages, (text) => { if (!quiet) process.stdout.write(text); }, 1);
    let shown = fullyQualified(ref.name);
    if (ref.digest !== undefined) shown += `@${ref.digest}`;
    else shown += `:${ref.tag ?? 'latest'}`;
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
    const response = await invocation.ctx.client().request('POST', path, { query: { tag }, headers: { 'X-Registry-Auth': EMPTY_AUTH } });
    await displayProgressStream(readJsonLines<JsonMessage>(response), (text) => { if (!quiet) process.stdout.write(text); }, 1);
    if (quiet) process.stdout.write(`${fullyQualified(name)}${tag ? `:${tag}` : ''}\n`);
    return 0;
  },
};
