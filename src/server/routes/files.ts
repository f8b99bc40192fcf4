// /containers/{id}/archive (HEAD, GET, PUT), /changes and /export: thin routes over the
// container file backends (src/containers/archive.ts, changes.ts).
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerPathStat } from '../../wire/types.js';
import type { ContainerFiles } from '../../containers/archive.js';
import { encodePathStat } from '../../wire/path-stat.js';
import type { ContainerChanges } from '../../containers/changes.js';
import { badParameter } from '../../errdefs/errors.js';
import { boolParam, sendJson, type RequestContext, type RouteTable } from '../server.js';

const ID = '([^/]+)';
export const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

/** cp (stat, archive, extract) and export. */
export type ContainerFilesBackend = Pick<ContainerFiles, 'stat' | 'archive' | 'extract' | 'export'>;
/** diff. */
export type ContainerChangesBackend = Pick<ContainerChanges, 'changes'>;

export function fileRoutes(files: ContainerFilesBackend, changes: ContainerChangesBackend): RouteTable {
  return [
    ['HEAD', new RegExp(`^/containers/${ID}/archive$`), async (context) => {
      const stat = await files.stat(context.params[0], pathParam(context));
      const response = context.response!;
      response.writeHead(200, { [PATH_STAT_HEADER]: encodePathStat(stat) });
      response.end();
    }],
    ['GET', new RegExp(`^/containers/${ID}/archive$`), async (context) => {
      await files.archive(context.params[0], pathParam(context), (stat, tar) => streamTar(context, tar, stat));
    }],
    ['PUT', new RegExp(`^/containers/${ID}/archive$`), async (context) => {
      await files.extract(context.params[0], pathParam(context), {
        noOverwriteDirNonDir: boolParam(context.query, 'noOverwriteDirNonDir'),
        copyUIDGID: boolParam(context.query, 'copyUIDGID'),
      }, context.request);
      const response = context.response!;
      response.writeHead(200, { 'Content-Length': 0 });
      response.end();
    }],
    ['GET', new RegExp(`^/containers/${ID}/changes$`), async (context) => {
      const list = await changes.changes(context.params[0]);
      // Docker's daemon encodes "no changes" as null.
      sendJson(context, 200, list.length > 0 ? list : null);
    }],
    ['GET', new RegExp(`^/containers/${ID}/export$`), async (context) => {
      await files.export(context.params[0], (tar) => streamTar(context, tar));
    }],
  ];
}

function pathParam(context: RequestContext): string {
  const path = context.query.get('path') ?? '';
  // Docker's own wording, missing space included (httputils.badParameterError).
  if (path === '') throw badParameter('bad parameter: pathcannot be empty');
  return path;
}

/** Streams a tar as the answer; a failure once it started can only cut the connection short. */
async function streamTar(context: RequestContext, tar: Readable, stat?: ContainerPathStat): Promise<void> {
  const response = context.response!;
  const headers: Record<string, string> = { 'Content-Type': 'application/x-tar' };
  if (stat) headers[PATH_STAT_HEADER] = encodePathStat(stat);
  response.writeHead(200, headers);
  try {
    await pipeline(tar, response);
  } catch {
    tar.destroy();
    response.destroy();
  }
}
