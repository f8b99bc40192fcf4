// /images/*: thin routes over the image service. Image names contain slashes
// (127.0.0.1:5000/me/app), so the name patterns are greedy up to the action suffix.
import type { ImageService } from '../../images/service.js';
import type { ImageSummary } from '../../wire/types.js';
import type { ImagePruneReport } from '../../wire/types.js';
import type { Filters } from '../../util/filters.js';
import type { DistributionService, ProgressMessage } from '../../distribution/service.js';
import { pullReference } from '../../distribution/service.js';
import { decodeRegistryAuth } from '../../distribution/auth.js';
import type { ServerResponse } from 'node:http';
import type { ArchiveMessage, ImageArchive } from '../../images/archive.js';
import { goJson } from '../../images/archive-format.js';
import { badParameter } from '../../errdefs/errors.js';
import { boolParam, filtersParam, sendJson, startStream, type RequestContext, type RouteTable } from '../server.js';

/** What the image routes need from the image service, besides listing and pruning (which count the containers using each image). */
export interface ImageBackend extends Pick<ImageService, 'get' | 'inspect' | 'history' | 'tag' | 'remove' | 'importRootfs'> {
  /** Without `all`, intermediate images (untagged parents of build steps) are left out, as Docker does. */
  list(filters: Filters, all?: boolean): ImageSummary[];
  prune(filters: Filters): Promise<ImagePruneReport>;
}

/** Pull and push. */
export type RegistryTransferBackend = Pick<DistributionService, 'pull' | 'push'>;

/** save and load. */
export type ImageArchiveBackend = Pick<ImageArchive, 'prepareSave' | 'writeSave' | 'load'>;

export function imageRoutes(images: ImageBackend, distribution: RegistryTransferBackend, archive: ImageArchiveBackend): RouteTable {
  // images.get words a miss as Docker does ("No such image: name:latest") and rejects invalid references.
  const get = (reference: string) => images.get(reference);
  return [
    ['GET', /^\/images\/get$/, (context) => saveImages(archive, context, context.query.getAll('names'))],
    ['GET', /^\/images\/(.+)\/get$/, (context) => saveImages(archive, context, [context.params[0]])],
    ['POST', /^\/images\/load$/, (context) => loadImages(archive, context)],
    ['POST', /^\/images\/prune$/, async (context) => {
      sendJson(context, 200, await images.prune(filtersParam(context.query)));
    }],
    ['POST', /^\/images\/create$/, (context) => createImage(images, context, distribution)],
    ['POST', /^\/images\/(.+)\/push$/, async (context) => {
      const progress = lazyProgressStream(context);
      await unlessClientLeft(context, distribution.push(context.params[0], context.query.get('tag') || undefined, progress.write, decodeRegistryAuth(context.request.headers['x-registry-auth']), { signal: context.signal }));
      progress.end();
    }],
    ['GET', /^\/images\/json$/, (context) => sendJson(context, 200, images.list(filtersParam(context.query), boolParam(context.query, 'all')))],
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

async function createImage(images: ImageBackend, context: RequestContext, distribution: RegistryTransferBackend): Promise<void> {
  const { query } = context;
  const source = query.get('fromSrc');
  if (source === null) {
    const name = query.get('fromImage') ?? '';
    // No tag (and none in fromImage) pulls every tag, as Docker's API does.
    const reference = pullReference(name, query.get('tag') || undefined, { allTags: true });
    const progress = lazyProgressStream(context);
    await unlessClientLeft(context, distribution.pull(reference, progress.write, decodeRegistryAuth(context.request.headers['x-registry-auth']), {
      platform: query.get('platform') || undefined, signal: context.signal,
    }));
    progress.end();
    return;
  }
  if (source !== '-') throw badParameter('importing from a URL is not supported; send the tarball as the request body (fromSrc=-)');
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

/** GET /images/get, /images/{name}/get: every name is resolved and every layer checked before the tar starts. */
async function saveImages(archive: ImageArchiveBackend, context: RequestContext, names: string[]): Promise<void> {
  const prepared = await archive.prepareSave(names);
  try {
    await archive.writeSave(prepared, startStream(context, 'application/x-tar'));
  } catch (error) {
    // A client that stops reading (`save | head`) is no daemon error.
    if (!context.signal.aborted) throw error;
  }
}

/** POST /images/load: always 200, as Docker answers; a failure is the stream's last message. */
async function loadImages(archive: ImageArchiveBackend, context: RequestContext): Promise<void> {
  let response: ServerResponse | undefined;
  const write = (message: ArchiveMessage) => {
    response ??= startStream(context, 'application/json');
    response.write(goJson(message) + '\r\n');
  };
  try {
    await archive.load(context.request, { quiet: boolParam(context.query, 'quiet', true) }, write);
  } catch (error) {
    // Read what the client still sends, so that it sees the answer rather than a broken pipe.
    const { request } = context;
    if (!request.readableEnded && !request.destroyed) {
      // A reader that gave up half-way (an async iterator) may still listen for 'readable',
      // which keeps the stream paused whatever resume() says.
      request.removeAllListeners('readable');
      request.on('data', () => undefined);
      request.resume();
      await new Promise((resolve) => request.once('end', resolve).once('close', resolve));
    }
    const message = error instanceof Error ? error.message : String(error);
    write({ errorDetail: { message }, error: message });
  }
  (response ?? startStream(context, 'application/json')).end();
}
