// /images/*: thin routes over the image service. Image names contain slashes
// (127.0.0.1:5000/me/app), so the name patterns are greedy up to the action suffix.
import type { ImageService } from '../../images/service.js';
import type { ContainerService } from '../../containers/service.js';
import type { ImageSummary } from '../../wire/types.js';
import type { DistributionService, ProgressMessage } from '../../distribution/service.js';
import { pullReference } from '../../distribution/service.js';
import { decodeRegistryAuth } from '../../distribution/auth.js';
import type { ServerResponse } from 'node:http';
import { goJson, type ArchiveMessage, type ImageArchive } from '../../images/archive.js';
import type { ImagePruner } from '../../images/prune.js';
import { ApiError } from '../../errdefs/errors.js';
import { assertFilterKeys, boolParam, filtersParam, sendJson, startStream, type RequestContext, type RouteTable } from '../server.js';

export function imageRoutes(images: ImageService, containers: ContainerService, distribution?: DistributionService, housekeeping?: ImageHousekeeping): RouteTable {
  // images.get words a miss as Docker does ("No such image: name:latest") and rejects invalid references.
  const get = (reference: string) => images.get(reference);
  return [
    ['GET', /^\/images\/get$/, (context) => saveImages(housekeeping, context, context.query.getAll('names'))],
    ['GET', /^\/images\/(.+)\/get$/, (context) => saveImages(housekeeping, context, [context.params[0]])],
    ['POST', /^\/images\/load$/, (context) => loadImages(housekeeping, context)],
    ['POST', /^\/images\/prune$/, async (context) => {
      if (!housekeeping) throw new ApiError(501, 'berthd cannot prune images');
      const used = new Set(containers.all().map((record) => record.image));
      sendJson(context, 200, await housekeeping.pruner.prune(filtersParam(context.query), (id) => used.has(id)));
    }],
    ['POST', /^\/images\/create$/, (context) => createImage(images, context, distribution)],
    ['POST', /^\/images\/(.+)\/push$/, async (context) => {
      if (!distribution) throw new ApiError(501, 'berthd cannot push to registries');
      const progress = lazyProgressStream(context);
      await unlessClientLeft(context, distribution.push(context.params[0], context.query.get('tag') || undefined, progress.write, decodeRegistryAuth(context.request.headers['x-registry-auth']), { signal: context.signal }));
      progress.end();
    }],
    ['GET', /^\/images\/json$/, (context) => sendJson(context, 200, listImages(images, containers, context))],
    ['GET', /^\/images\/(.+)\/json$/, (context) => sendJson(context, 200, images.inspect(get(context.params[0])))],
    ['GET', /^\/images\/(.+)\/history$/, (context) => sendJson(context, 200, images.history(get(context.params[0])))],
    ['POST', /^\/images\/(.+)\/tag$/, async (context) => {
      await images.tag(context.params[0], context.query.get('repo') ?? '', context.query.get('tag') ?? undefined);
      sendJson(context, 201, null);
    }],
    ['DELETE', /^\/images\/(.+)$/, async (context) => {
      const removed = await images.remove(context.params[0], { force: boolParam(context.query, 'force'), noPrune: boolParam(context.query, 'noprune') });
      sendJson(context, 200, removed);
    }],
  ];
}

/** A pull or push abandoned by its client ends quietly (it has cleaned up): there is nobody to tell. */
async function unlessClientLeft(context: RequestContext, operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (!context.signal.aborted) throw error;
  }
}

/** A JSON progress stream whose headers go out with the first message: earlier errors get a plain HTTP status. */
function lazyProgressStream(context: RequestContext): { write: (message: ProgressMessage) => void; end: () => void } {
  let response: ServerResponse | undefined;
  return {
    write: (message) => {
      response ??= startStream(context, 'application/json');
      // Docker ends each message with CRLF.
      response.write(JSON.stringify(message) + '\r\n');
    },
    end: () => {
      (response ?? startStream(context, 'application/json')).end();
    },
  };
}

async function createImage(images: ImageService, context: RequestContext, distribution: DistributionService | undefined): Promise<void> {
  const { query } = context;
  const source = query.get('fromSrc');
  if (source === null) {
    const name = query.get('fromImage') ?? '';
    if (!distribution) throw new ApiError(501, `pull access denied for ${name}: berthd cannot pull from registries`);
    // No tag (and none in fromImage) pulls every tag, as Docker's API does.
    const reference = pullReference(name, query.get('tag') || undefined, { allTags: true });
    const progress = lazyProgressStream(context);
    await unlessClientLeft(context, distribution.pull(reference, progress.write, decodeRegistryAuth(context.request.headers['x-registry-auth']), {
      platform: query.get('platform') || undefined, signal: context.signal,
    }));
    progress.end();
    return;
  }
  if (source !== '-') throw new ApiError(400, 'importing from a URL is not supported; send the tarball as the request body (fromSrc=-)');
  let repo = query.get('repo') ?? undefined;
  let tag = query.get('tag') ?? undefined;
  // `repo` may carry the tag itself ("busybox:1.36"), as older clients send it.
  const tagged = repo ? /^(.*[^/]):([\w][\w.-]{0,127})$/.exec(repo) : null;
  if (tagged && !tag) [repo, tag] = [tagged[1], tagged[2]];
  const platform = query.get('platform');
  const [os, architecture] = platform ? platform.split('/') : [];
  const record = await images.importRootfs(context.request, {
    repo, tag, changes: query.getAll('changes'), message: query.get('message') ?? undefined, source: '-',
    platform: platform ? { os, architecture } : undefined,
  });
  const response = startStream(context, 'application/json');
  response.end(JSON.stringify({ status: record.id }) + '\n');
}

function listImages(images: ImageService, containers: ContainerService, context: RequestContext): ImageSummary[] {
  const filters = filtersParam(context.query);
  assertFilterKeys(filters, ['dangling', 'label', 'before', 'since', 'reference', 'until']);
  const usage = new Map<string, number>();
  for (const record of containers.all()) usage.set(record.image, (usage.get(record.image) ?? 0) + 1);
  const dangling = filters.get('dangling')?.[0];
  if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling)) throw new ApiError(400, `invalid filter 'dangling=${dangling}'`);
  const wantDangling = dangling === 'true' || dangling === '1';
  const before = filters.get('before')?.map((reference) => images.resolve(reference)?.config.created ?? '');
  const since = filters.get('since')?.map((reference) => images.resolve(reference)?.config.created ?? '');
  const references = filters.get('reference') ?? [];
  return images.list()
    .filter((record) => dangling === undefined || (record.repoTags.length === 0) === wantDangling)
    .filter((record) => !filters.has('label') || filters.get('label')!.every((value) => {
      const labels = record.config.config?.Labels ?? {};
      const [key, ...rest] = value.split('=');
      return rest.length === 0 ? key in labels : labels[key] === rest.join('=');
    }))
    .filter((record) => references.length === 0 || record.repoTags.some((tag) => references.some((pattern) => referenceMatches(pattern, tag))))
    .filter((record) => !before || before.every((created) => (record.config.created ?? '') < created))
    .filter((record) => !since || since.every((created) => (record.config.created ?? '') > created))
    .map((record) => images.summary(record, usage.get(record.id) ?? 0))
    .sort((a, b) => b.Created - a.Created);
}

/** Docker's reference filter: a glob on the familiar name, with or without the tag. */
function referenceMatches(pattern: string, tag: string): boolean {
  const glob = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.')}$`);
  const withoutTag = tag.replace(/:[^:/]+$/, '');
  return glob.test(tag) || glob.test(withoutTag);
}

/** save/load and prune: the image archive and the pruner (src/images/archive.ts, prune.ts). */
export interface ImageHousekeeping { archive: ImageArchive; pruner: ImagePruner }

/** GET /images/get, /images/{name}/get: every name is resolved and every layer checked before the tar starts. */
async function saveImages(housekeeping: ImageHousekeeping | undefined, context: RequestContext, names: string[]): Promise<void> {
  if (!housekeeping) throw new ApiError(501, 'berthd cannot save images');
  const prepared = await housekeeping.archive.prepareSave(names);
  try {
    await housekeeping.archive.writeSave(prepared, startStream(context, 'application/x-tar'));
  } catch (error) {
    // A client that stops reading (`save | head`) is no daemon error.
    if (!context.signal.aborted) throw error;
  }
}

/** POST /images/load: always 200, as Docker answers; a failure is the stream's last message. */
async function loadImages(housekeeping: ImageHousekeeping | undefined, context: RequestContext): Promise<void> {
  if (!housekeeping) throw new ApiError(501, 'berthd cannot load images');
  let response: ServerResponse | undefined;
  const write = (message: ArchiveMessage) => {
    response ??= startStream(context, 'application/json');
    response.write(goJson(message) + '\r\n');
  };
  try {
    await housekeeping.archive.load(context.request, { quiet: boolParam(context.query, 'quiet', true) }, write);
  } catch (error) {
    // Read what the client still sends, so that it sees the answer rather than a broken pipe.
    if (!context.request.readableEnded && !context.request.destroyed) {
      context.request.resume();
      await new Promise((resolve) => context.request.once('end', resolve).once('close', resolve));
    }
    const message = error instanceof Error ? error.message : String(error);
    write({ errorDetail: { message }, error: message });
  }
  (response ?? startStream(context, 'application/json')).end();
}
