// berth build (the classic builder's client side, as the docker CLI with DOCKER_BUILDKIT=0):
// the context packed as a tar with .dockerignore applied (the Dockerfile and .dockerignore are
// always sent), a Dockerfile from outside the context or from stdin added under a random name,
// the builder's JSON messages printed as docker prints them. And berth commit.
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { packWithGnuTar } from '../../archive/gnu-tar.js';
import { contextFilter, parseDockerignore, type ContextFilter } from '../../build/dockerignore.js';
import { boolFlag, listFlag, stringFlag, type CommandSpec } from '../command.js';
import { StatusError } from '../output.js';
import { JsonMessageError, renderJsonMessages } from '../progress.js';
import { parseReference } from '../reference.js';
import { keyValueMap } from '../flags.js';
import { traced, traceNow, traceRecord } from '../../util/trace.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function looksLikeArchive(head: Buffer): boolean {
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return true;
  return head[0] === 0x1f && head[1] === 0x8b || head.subarray(0, 3).toString('latin1') === 'BZh' || head[0] === 0xfd && head[1] === 0x37;
}

/** The context directory's paths to send, parents first, names in byte order; excluded ones left out. */
export async function contextEntries(root: string, filter: ContextFilter, always: ReadonlySet<string>): Promise<string[]> {
  const entries: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const name of (await readdir(join(root, dir))).sort()) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const stats = lstatSync(join(root, path));
      const excluded = !always.has(path) && filter.excludes(path);
      if (stats.isDirectory()) {
        if (excluded && !filter.mayIncludeBelow(path)) continue;
        if (!excluded) entries.push(path);
        await visit(path);
      } else if (!excluded) entries.push(path);
    }
  };
  await visit('');
  return entries;
}

/** A tar of `names` (below `root`, each alone) followed by extra in-memory files (a Dockerfile from stdin or outside the context). */
function packContext(root: string, names: string[], extra: Array<{ name: string; content: Buffer }>): Readable {
  const append = extra.map((file) => ({ name: file.name, mode: 0o600, mtime: new Date(), content: file.content }));
  return packWithGnuTar(root, names, { append });
}

export const buildCommand: CommandSpec = {
  name: 'build',
  usage: '[OPTIONS] PATH | URL | -',
  description: 'Build an image from a Dockerfile',
  aliases: ['image build', 'build', 'builder build'],
  flags: [
    { name: 'build-arg', type: 'list', description: 'Set build-time variables' },
    { name: 'cache-from', type: 'list', description: 'Images to consider as cache sources' },
    { name: 'cpu-period', type: 'string', description: 'Limit the CPU CFS (Completely Fair Scheduler) period' },
    { name: 'cpu-quota', type: 'string', description: 'Limit the CPU CFS (Completely Fair Scheduler) quota' },
    { name: 'cpu-shares', short: 'c', type: 'string', description: 'CPU shares (relative weight)' },
    { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
    { name: 'file', short: 'f', type: 'string', description: "Name of the Dockerfile (Default is 'PATH/Dockerfile')" },
    { name: 'force-rm', type: 'bool', description: 'Always remove intermediate containers' },
    { name: 'iidfile', type: 'string', description: 'Write the image ID to the file' },
    { name: 'label', type: 'list', description: 'Set metadata for an image' },
    { name: 'memory', short: 'm', type: 'string', description: 'Memory limit' },
    { name: 'network', type: 'string', description: 'Set the networking mode for the RUN instructions during build' },
    { name: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
    { name: 'pull', type: 'bool', description: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the build output and print image ID on success' },
    { name: 'rm', type: 'bool', default: true, description: 'Remove intermediate containers after a successful build' },
    { name: 'tag', short: 't', type: 'list', description: "Name and optionally a tag in the 'name:tag' format" },
    { name: 'target', type: 'string', description: 'Set the target build stage to build.' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const { flags } = invocation;
    const location = invocation.args[0]!;
    const tags = listFlag(flags, 'tag');
    for (const tag of tags) {
      try {
        parseReference(tag);
      } catch (error) {
        throw new StatusError(1, `invalid argument "${tag}" for "-t, --tag" flag: ${(error as Error).message}`);
      }
    }
    const quiet = boolFlag(flags, 'quiet');
    const file = stringFlag(flags, 'file') ?? '';
    if (file === '-' && location === '-') throw new StatusError(1, 'invalid argument: can\'t use stdin for both build context and dockerfile');
    let body: Readable | undefined;
    let dockerfile = file;
    let remote: string | undefined;
    const extra: Array<{ name: string; content: Buffer }> = [];
    const randomName = () => `.dockerfile.${randomBytes(10).toString('hex')}`;
    if (file === '-') {
      dockerfile = randomName();
      extra.push({ name: dockerfile, content: await readAll(process.stdin) });
    }
    if (location === '-') {
      const input = await readAll(process.stdin);
      if (looksLikeArchive(input)) body = Readable.from([input]);
      else {
        dockerfile = 'Dockerfile';
        body = packContext(process.cwd(), [], [{ name: 'Dockerfile', content: input }]);
      }
    } else if (/^(https?:\/\/|git@|git:\/\/|github\.com\/)/.test(location)) {
      remote = location;
    } else {
      const root = resolve(location);
      try {
        if (!statSync(root).isDirectory()) throw new Error();
      } catch {
        throw new StatusError(1, `unable to prepare context: path "${location}" not found`);
      }
      if (file && file !== '-') {
        const filePath = resolve(file);
        const inside = relative(root, filePath);
        if (inside.startsWith('..') || inside.startsWith(sep)) {
          dockerfile = randomName();
          extra.push({ name: dockerfile, content: readFileSync(filePath) });
        } else dockerfile = inside.split(sep).join('/');
      }
      let patterns: string[] = [];
      try {
        patterns = parseDockerignore(readFileSync(join(root, '.dockerignore'), 'utf8'));
      } catch {
        // No .dockerignore: everything goes.
      }
      const entries = await traced('cli.context.walk', () => contextEntries(root, contextFilter(patterns), new Set(['.dockerignore', dockerfile || 'Dockerfile'])));
      body = packContext(root, entries, extra);
      const packing = traceNow();
      body.once('end', () => traceRecord('cli.context.sent', traceNow() - packing));
      if (!quiet) process.stdout.write('Sending build context to Docker daemon\n');
    }
    const buildArgs: Record<string, string | null> = {};
    for (const arg of listFlag(flags, 'build-arg')) {
      const equals = arg.indexOf('=');
      if (equals >= 0) buildArgs[arg.slice(0, equals)] = arg.slice(equals + 1);
      else buildArgs[arg] = process.env[arg] ?? null;
    }
    const labels = keyValueMap(listFlag(flags, 'label'));
    const messages = await invocation.ctx.client().imageBuild({
      t: tags.length > 0 ? tags : undefined,
      dockerfile: dockerfile || undefined,
      q: quiet ? '1' : undefined,
      nocache: boolFlag(flags, 'no-cache') ? '1' : undefined,
      pull: boolFlag(flags, 'pull') ? '1' : undefined,
      rm: flags.rm === false ? '0' : '1',
      forcerm: boolFlag(flags, 'force-rm') ? '1' : undefined,
      buildargs: JSON.stringify(buildArgs),
      labels: JSON.stringify(labels),
      target: stringFlag(flags, 'target') || undefined,
      networkmode: stringFlag(flags, 'network') || undefined,
      platform: stringFlag(flags, 'platform') || undefined,
      cachefrom: JSON.stringify(listFlag(flags, 'cache-from')),
      memory: stringFlag(flags, 'memory') || undefined,
      cpushares: stringFlag(flags, 'cpu-shares') || undefined,
      cpusetcpus: stringFlag(flags, 'cpuset-cpus') || undefined,
      cpuperiod: stringFlag(flags, 'cpu-period') || undefined,
      cpuquota: stringFlag(flags, 'cpu-quota') || undefined,
      remote,
    }, body);
    let imageId = '';
    let quietOutput = '';
    async function* watched() {
      for await (const message of messages) {
        const aux = message.value.aux as { ID?: string } | undefined;
        if (aux?.ID) imageId = aux.ID;
        if (quiet && message.value.stream) {
          quietOutput += message.value.stream;
          continue;
        }
        yield message;
      }
    }
    try {
      await renderJsonMessages(watched(), (text) => process.stdout.write(text), { terminal: false, width: () => 80 });
    } catch (error) {
      // As the docker CLI: a failing RUN's exit code is the build's.
      const code = error instanceof JsonMessageError && error.code ? error.code : 1;
      throw new StatusError(code, (error as Error).message);
    }
    if (quiet) process.stdout.write(quietOutput);
    const iidfile = stringFlag(flags, 'iidfile');
    if (iidfile && imageId) await writeFile(iidfile, imageId);
    return 0;
  },
};

export const commitCommand: CommandSpec = {
  name: 'commit',
  usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  description: "Create a new image from a container's changes",
  aliases: ['container commit', 'commit'],
  flags: [
    { name: 'author', short: 'a', type: 'string', description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Commit message' },
    { name: 'pause', short: 'p', type: 'bool', default: true, description: 'Pause container during commit' },
  ],
  args: { min: 1, max: 2 },
  async run(invocation) {
    const { flags, args } = invocation;
    const reference = args[1];
    if (reference) {
      try {
        parseReference(reference);
      } catch (error) {
        throw new StatusError(1, (error as Error).message);
      }
    }
    const changes = listFlag(flags, 'change');
    const { Id } = await invocation.ctx.client().containerCommit({
      container: args[0]!,
      repo: reference ?? '',
      tag: '',
      comment: stringFlag(flags, 'message') ?? '',
      author: stringFlag(flags, 'author') ?? '',
      pause: flags.pause === false ? '0' : '1',
      changes: changes.length > 0 ? changes : undefined,
    });
    process.stdout.write(`${Id}\n`);
    return 0;
  },
};
