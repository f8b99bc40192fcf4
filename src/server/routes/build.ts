// POST /commit and POST /build: thin routes over the commit and the classic builder.
import type { ContainerConfig } from '../../wire/types.js';
import type { CommitOptions } from '../../containers/commit.js';
import type { ImageRecord } from '../../images/service.js';
import { decodeBody } from '../decode/decode.js';
import { boolParam, readBody, sendJson, type RequestContext, type RouteTable } from '../server.js';
import type { BuildBackend } from './build-stream.js';
import { buildImage } from './build-stream.js';

export interface CommitBackend {
  commit(container: string, options: CommitOptions): Promise<ImageRecord>;
  /** Tags the new image as `repo[:tag]`. */
  tag(imageId: string, repo: string, tag?: string): Promise<void>;
}

export function buildRoutes(commits: CommitBackend, builder: BuildBackend): RouteTable {
  return [
    ['POST', /^\/commit$/, (context) => commit(commits, context)],
    ['POST', /^\/build$/, (context) => buildImage(builder, context)],
  ];
}

async function commit(commits: CommitBackend, context: RequestContext): Promise<void> {
  const { query } = context;
  const body = await readBody(context.request);
  // The docker CLI sends `null` when no config is given.
  const config = body.length === 0 || body.toString('utf8').trim() === 'null' ? undefined : decodeBody<ContainerConfig>('containerCreate', body);
  const record = await commits.commit(query.get('container') ?? '', {
    config,
    changes: query.getAll('changes'),
    author: query.get('author') ?? undefined,
    comment: query.get('comment') ?? undefined,
    pause: boolParam(query, 'pause', true),
  });
  const repo = query.get('repo');
  if (repo) await commits.tag(record.id, repo, query.get('tag') || undefined);
  sendJson(context, 201, { Id: record.id });
}
