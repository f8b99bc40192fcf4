// Image commands: images (image ls), import, tag, rmi (image rm), history, save, load and
// image prune, with docker's table layouts and messages.

import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageHistoryItem, ImagePruneReport, ImageSummary } from '../../wire/types.js';
import { boolFlag, forEachTarget, listFlag, stringFlag } from '../command.js';
import type { CommandSpec } from '../command.js';
import { chooseFormat, displayProgressStream, displaySize, flushStdout, formatGoTime, formatRfc3339, renderFormatted, sortedJson, StatusError, truncateId, ellipsis } from '../output.js';
import { familiarName, parseReference, ReferenceError, tagTarget } from '../reference.js';
import { humanDuration, humanSize } from '../../util/units.js';
import { FORMAT_HELP, filtersQuery } from './ps.js';

export const DEFAULT_IMAGES_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
export const DEFAULT_IMAGES_DIGEST_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

export interface ImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  VirtualSize: string;
}

function splitRepoTag(ref: string): [string, string] | undefined {
  const colon = ref.lastIndexOf(':');
  if (colon === -1 || colon < ref.lastIndexOf('/')) return undefined;
  return [familiarName(ref.slice(0, colon)), ref.slice(colon + 1)];
}

function splitRepoDigest(ref: string): [string, string] | undefined {
  const at = ref.indexOf('@');
  if (at === -1) return undefined;
  return [familiarName(ref.slice(0, at)), ref.slice(at + 1)];
}

/** formatter.imageFormat: one row per repository:tag (or digest), "<none>" for dangling images. */
export function imageRows(images: ImageSummary[], options: { trunc: boolean; digests: boolean; now?: number }): ImageRow[] {
  const now = options.now ?? Date.now();
  const rows: ImageRow[] = [];
  for (const image of images) {
    const base = (repository: string, tag: string, digest: string): ImageRow => {
      const size = displaySize(image.Size);
      return {
        Containers: image.Containers === -1 ? 'N/A' : String(image.Containers),
        CreatedAt: formatGoTime(image.Created),
        CreatedSince: image.Created > 0 ? `${humanDuration(now - image.Created * 1000)} ago` : 'N/A',
        Digest: digest,
        ID: options.trunc ? truncateId(image.Id) : image.Id,
        Repository: repository,
        SharedSize: image.SharedSize === -1 ? 'N/A' : displaySize(image.SharedSize),
        Size: size,
        Tag: tag,
        UniqueSize: image.SharedSize === -1 ? 'N/A' : displaySize(image.Size - image.SharedSize),
        VirtualSize: size,
      };
    };
    const tags = (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    const digestRefs = (image.RepoDigests ?? []).filter((d) => d !== '<none>@<none>');
    if (tags.length === 0 && digestRefs.length === 0) {
      rows.push(base('<none>', '<none>', '<none>'));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const ref of tags) {
      const split = splitRepoTag(ref);
      if (split) repoTags.set(split[0], [...(repoTags.get(split[0]) ?? []), split[1]]);
    }
    for (const ref of digestRefs) {
      const split = splitRepoDigest(ref);
      if (split) repoDigests.set(split[0], [...(repoDigests.get(split[0]) ?? []), split[1]]);
    }
    for (const [repo, repoTagList] of repoTags) {
      const digests = options.digests ? (repoDigests.get(repo) ?? []) : [];
      repoDigests.delete(repo);
      for (const tag of repoTagList) {
        if (digests.length === 0) rows.push(base(repo, tag, '<none>'));
        else for (const digest of digests) rows.push(base(repo, tag, digest));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (options.digests) for (const digest of digests) rows.push(base(repo, '<none>', digest));
      else rows.push(base(repo, '<none>', ''));
    }
  }
  return rows;
}

export const imagesCommand: CommandSpec = {
  name: 'images',
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  aliases: ['image ls', 'image list', 'images'],
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', description: 'Show digests' },
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: FORMAT_HELP },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  ],
  args: { max: 1 },
  async run(invocation) {
    const { flags, args } = invocation;
    const filters = [...listFlag(flags, 'filter')];
    if (args[0]) filters.push(`reference=${args[0]}`);
    const images = await invocation.ctx.client().imageList({ all: boolFlag(flags, 'all'), filters: filtersQuery(filters) });
    const quiet = boolFlag(flags, 'quiet');
    const digests = boolFlag(flags, 'digests');
    let format = chooseFormat({
      format: stringFlag(flags, 'format') ?? '',
      defaultTable: digests ? DEFAULT_IMAGES_DIGEST_FORMAT : DEFAULT_IMAGES_FORMAT,
      quiet,
    });
    if (format.startsWith('table') && digests && !format.includes('{{.Digest}}')) format += '\t{{.Digest}}';
    let rows = imageRows(images, { trunc: !boolFlag(flags, 'no-trunc'), digests });
    if (quiet) {
      // docker lists each image once in quiet mode.
      const seen = new Set<string>();
      rows = rows.filter((row) => !seen.has(row.ID) && seen.add(row.ID));
    }
    if (format === 'json') {
      process.stdout.write(rows.map((row) => sortedJson({ ...row })).join('\n') + (rows.length > 0 ? '\n' : ''));
      return 0;
    }
    process.stdout.write(renderFormatted(format, rows, IMAGE_HEADERS));
    return 0;
  },
};

export const tagCommand: CommandSpec = {
  name: 'tag',
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliases: ['image tag', 'tag'],
  flags: [],
  args: { min: 2, max: 2 },
  async run(invocation) {
    const [source, target] = invocation.args as [string, string];
    let parsed;
    try {
      parseReference(source);
      parsed = tagTarget(target);
    } catch (err) {
      if (err instanceof ReferenceError) {
        const which = err.message.startsWith('refusing') ? err.message : `Error parsing reference: ${JSON.stringify(target)} is not a valid repository/tag: ${err.message}`;
        throw new StatusError(1, which);
      }
      throw err;
    }
    await invocation.ctx.client().imageTag(source, parsed.repo, parsed.tag);
    return 0;
  },
};

export const rmiCommand: CommandSpec = {
  name: 'rmi',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  aliases: ['image rm', 'image remove', 'rmi'],
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', description: 'Do not delete untagged parents' },
  ],
  args: { min: 1 },
  run(invocation) {
    const client = invocation.ctx.client();
    const query = { force: boolFlag(invocation.flags, 'force'), noprune: boolFlag(invocation.flags, 'no-prune') };
    return forEachTarget(invocation.args, async (image) => {
      const deleted = await client.imageRemove(image, query);
      const lines: string[] = [];
      for (const item of deleted ?? []) {
        if (item.Deleted) lines.push(`Deleted: ${item.Deleted}`);
        else if (item.Untagged) lines.push(`Untagged: ${item.Untagged}`);
      }
      return lines;
    });
  },
};

const HISTORY_HEADERS: Record<string, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

export function historyRow(item: ImageHistoryItem, options: { trunc: boolean; human: boolean; now?: number }): Record<string, string> {
  const now = options.now ?? Date.now();
  const createdAt = formatRfc3339(item.Created);
  let createdSince = createdAt;
  if (options.human) createdSince = item.Created > 0 ? `${humanDuration(now - item.Created * 1000)} ago` : 'N/A';
  const createdBy = item.CreatedBy.replace(/\t/g, ' ');
  return {
    Comment: item.Comment,
    CreatedAt: createdAt,
    CreatedBy: options.trunc ? ellipsis(createdBy, 45) : createdBy,
    CreatedSince: createdSince,
    ID: options.trunc && item.Id !== '<missing>' ? truncateId(item.Id) : item.Id,
    Size: options.human ? displaySize(item.Size) : String(item.Size),
  };
}

export const historyCommand: CommandSpec = {
  name: 'history',
  usage: '[OPTIONS] IMAGE',
  description: 'Show the history of an image',
  aliases: ['image history', 'history'],
  flags: [
    { name: 'format', type: 'string', description: FORMAT_HELP },
    { name: 'human', short: 'H', type: 'bool', default: true, description: 'Print sizes and dates in human readable format' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'platform', type: 'string', description: 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const { flags } = invocation;
    const history = await invocation.ctx.client().imageHistory(invocation.args[0]!);
    const human = flags.human !== false;
    const format = chooseFormat({
      format: stringFlag(flags, 'format') ?? '',
      defaultTable: human
        ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
        : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
      quiet: boolFlag(flags, 'quiet'),
    });
    const rows = history.map((item) => historyRow(item, { trunc: !boolFlag(flags, 'no-trunc'), human }));
    if (format === 'json') {
      process.stdout.write(rows.map((row) => sortedJson(row) + '\n').join(''));
      return 0;
    }
    process.stdout.write(renderFormatted(format, rows, HISTORY_HEADERS));
    return 0;
  },
};

export const importCommand: CommandSpec = {
  name: 'import',
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  aliases: ['image import', 'import'],
  flags: [
    { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  ],
  args: { min: 1, max: 2 },
  async run(invocation) {
    const { flags, args } = invocation;
    const source = args[0]!;
    const reference = args[1];
    // Docker's client sends the whole reference as `repo` and leaves `tag` empty.
    if (reference) {
      try {
        parseReference(reference);
      } catch (err) {
        throw new StatusError(1, (err as Error).message);
      }
    }
    let body: Readable | undefined;
    let fromSrc = source;
    if (source === '-') {
      body = process.stdin;
    } else if (!/^https?:\/\//.test(source)) {
      try {
        statSync(source);
      } catch {
        throw new StatusError(1, `open ${source}: no such file or directory`);
      }
      body = createReadStream(source);
      fromSrc = '-';
    }
    const changes = listFlag(flags, 'change');
    const messages = await invocation.ctx.client().imageCreate(
      {
        fromSrc,
        repo: reference ?? '',
        tag: '',
        message: stringFlag(flags, 'message') ?? '',
        changes: changes.length > 0 ? changes : undefined,
        platform: stringFlag(flags, 'platform') || undefined,
      },
      body,
    );
    await displayProgressStream(messages, (text) => process.stdout.write(text), 1);
    return 0;
  },
};

// ---- save, load, image prune ----

export const saveCommand: CommandSpec = {
  name: 'save',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliases: ['image save', 'save'],
  flags: [{ name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }],
  args: { min: 1 },
  async run(invocation) {
    const output = stringFlag(invocation.flags, 'output') ?? '';
    if (output === '' && process.stdout.isTTY) {
      throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    }
    if (output !== '') checkSaveDestination(output);
    const response = await invocation.ctx.client().imageSave(invocation.args);
    if (output === '') {
      try {
        await pipeline(response, process.stdout, { end: false });
        await flushStdout();
      } catch (err) {
        // The reader of our stdout went away (`berth save x | head`): nothing more to say.
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
      }
      return 0;
    }
    // Like docker's atomic writer: a failed save leaves the old file (or none), never half a tar.
    const temp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
    try {
      await pipeline(response, createWriteStream(temp, { mode: 0o600 }));
      await rename(temp, output);
    } catch (err) {
      await rm(temp, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new StatusError(1, `failed to save image: ${(err as Error).message}`);
      throw err;
    }
    return 0;
  },
};

/** atomicwriter's checks, made before anything is asked of the daemon (docker's wording). */
function checkSaveDestination(output: string): void {
  const dir = dirname(output);
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch (err) {
    throw new StatusError(1, `failed to save image: invalid output path: stat ${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  if (!dirStat.isDirectory()) throw new StatusError(1, `failed to save image: invalid output path: stat ${dir}: not a directory`);
  let target;
  try {
    target = statSync(output);
  } catch {
    return;
  }
  if (target.isDirectory()) throw new StatusError(1, 'failed to save image: cannot write to a directory');
  if (!target.isFile()) throw new StatusError(1, 'failed to save image: cannot write to a special file');
}

export const loadCommand: CommandSpec = {
  name: 'load',
  usage: '[OPTIONS]',
  description: 'Load an image from a tar archive or STDIN',
  aliases: ['image load', 'load'],
  flags: [
    { name: 'input', short: 'i', type: 'string', description: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the load output' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const input = stringFlag(invocation.flags, 'input') ?? '';
    let body: Readable;
    if (input === '') {
      if (process.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
      body = process.stdin;
    } else {
      try {
        statSync(input);
      } catch {
        throw new StatusError(1, `open ${input}: no such file or directory`);
      }
      body = createReadStream(input);
    }
    const quiet = boolFlag(invocation.flags, 'quiet') || !process.stdout.isTTY;
    const messages = await invocation.ctx.client().imageLoad(body, quiet);
    await displayProgressStream(messages, (text) => process.stdout.write(text), 1, process.stdout);
    return 0;
  },
};

const PRUNE_ALL_WARNING = 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?';
const PRUNE_DANGLING_WARNING = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';

/** prompt.Confirm: prints the question with " [y/N] ", reads one line; only "y"/"Y" is yes, and end of input is no. */
export async function confirm(message: string, input: Readable = process.stdin, write: (text: string) => void = (text) => process.stdout.write(text)): Promise<boolean> {
  write(`${message} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const finish = () => {
      input.off('data', onData);
      input.off('end', finish);
      input.off('error', finish);
      input.pause();
      resolve(text.split('\n')[0]!.trim());
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes('\n')) finish();
    };
    input.on('data', onData);
    input.once('end', finish);
    input.once('error', finish);
  });
  return answer.toLowerCase() === 'y';
}

export const imagePruneCommand: CommandSpec = {
  name: 'prune',
  usage: '[OPTIONS]',
  description: 'Remove unused images',
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images, not just dangling ones' },
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const all = boolFlag(invocation.flags, 'all');
    const filters = [...listFlag(invocation.flags, 'filter'), `dangling=${all ? 'false' : 'true'}`];
    const query = filtersQuery(filters);
    // A cancelled prune ends quietly with status 0, as docker's does.
    if (!boolFlag(invocation.flags, 'force') && !(await confirm(all ? PRUNE_ALL_WARNING : PRUNE_DANGLING_WARNING))) return 0;
    const report = await invocation.ctx.client().imagePrune(query);
    process.stdout.write(`${deletedImagesSection(report)}Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};

/** The "Deleted Images:" part of a prune's output and its blank line; nothing when none went. */
export function deletedImagesSection(report: ImagePruneReport): string {
  const deleted = report.ImagesDeleted ?? [];
  if (deleted.length === 0) return '';
  return `Deleted Images:\n${deleted.map((item) => (item.Untagged ? `untagged: ${item.Untagged}\n` : `deleted: ${item.Deleted ?? ''}\n`)).join('')}\n`;
}
