// GET /system/df: what the images, containers and volumes take on disk (`docker system df`).
import type { ContainerSummary, ImageSummary, Volume } from '../../wire/types.js';
import { badParameter } from '../../errdefs/errors.js';
import { sendJson, type RouteTable } from '../server.js';

export interface DiskUsageBackend {
  /** Images with the number of containers using each. */
  images(): ImageSummary[];
  /** Every container, with SizeRw and SizeRootFs. */
  containers(): Promise<ContainerSummary[]>;
  /** Every volume, with UsageData (bytes used, containers referring to it). */
  volumes(): Promise<Volume[]>;
}

const TYPES = ['container', 'image', 'volume', 'build-cache'];

export function diskUsageRoutes(backend: DiskUsageBackend): RouteTable {
  return [
    ['GET', /^\/system\/df$/, async (context) => {
      // API 1.42+: `type` limits the answer to some kinds; the others are left out (null).
      const types = context.query.getAll('type');
      for (const type of types) if (!TYPES.includes(type)) throw badParameter(`unknown object type: ${type}`);
      const wants = (type: string) => types.length === 0 || types.includes(type);
      const images = wants('image') ? backend.images() : null;
      sendJson(context, 200, {
        // Layers shared between images are counted once per image (berth does not report SharedSize).
        LayersSize: images ? images.reduce((total, image) => total + image.Size, 0) : 0,
        Images: images,
        Containers: wants('container') ? await backend.containers() : null,
        Volumes: wants('volume') ? await backend.volumes() : null,
        BuildCache: wants('build-cache') ? [] : null,
      });
    }],
  ];
}
