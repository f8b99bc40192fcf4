// /volumes: the local volume store. Which containers use a volume (in-use refusals, dangling,
// prune) the store learns from the container records; the routes only translate.
import type { Filters } from '../../util/filters.js';
import type { Volume, VolumeCreateOptions } from '../../volumes/store.js';
import { readRequestBody } from '../decode/request.js';
import { boolParam, compareVersions, filtersParam, sendJson, sendNoContent, type RouteTable } from '../server.js';

export interface VolumeBackend {
  list(filters: Filters): Volume[];
  create(options: VolumeCreateOptions): Promise<Volume>;
  get(name: string): Volume;
  remove(name: string, options: { force?: boolean }): Promise<void>;
  prune(filters: Filters): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }>;
}

export function volumeRoutes(volumes: VolumeBackend): RouteTable {
  return [
    ['GET', /^\/volumes$/, (context) => {
      sendJson(context, 200, { Volumes: volumes.list(filtersParam(context.query)), Warnings: [] });
    }],
    ['POST', /^\/volumes\/create$/, async (context) => {
      const options = await readRequestBody<VolumeCreateOptions>(context, 'volumeCreate');
      sendJson(context, 201, await volumes.create(options ?? {}));
    }],
    ['POST', /^\/volumes\/prune$/, async (context) => {
      const filters = filtersParam(context.query);
      // Before API 1.42 a prune removed every unused volume, named ones too.
      if (compareVersions(context.version, '1.42') < 0 && !filters.has('all')) filters.set('all', ['true']);
      sendJson(context, 200, await volumes.prune(filters));
    }],
    ['GET', /^\/volumes\/([^/]+)$/, (context) => {
      sendJson(context, 200, volumes.get(context.params[0]));
    }],
    ['DELETE', /^\/volumes\/([^/]+)$/, async (context) => {
      await volumes.remove(context.params[0], { force: boolParam(context.query, 'force') });
      sendNoContent(context);
    }],
  ];
}
