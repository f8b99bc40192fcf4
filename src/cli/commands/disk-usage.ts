// `system df`: the summary table of docker's formatter/disk_usage.go, from GET /system/df, or
// with -v its verbose layout (one table each for images, containers, volumes and build cache).
import type { ContainerSummary, ImageSummary, Volume } from '../../wire/types.js';
import { boolFlag, stringFlag, type CommandSpec } from '../command.js';
import { IMAGE_HEADERS, imageRows } from './images.js';
import { containerRow, PS_HEADERS } from './ps-format.js';
import { VOLUME_HEADERS, volumeRow } from './volumes.js';
import { chooseFormat, renderFormatted, sortedJson } from '../output.js';
import { humanSize } from '../../util/units.js';

export interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: Volume[] | null;
  BuildCache?: Array<{ Size: number; InUse: boolean; Shared: boolean }> | null;
}

export interface DiskUsageRow { Type: string; TotalCount: string; Active: string; Size: string; Reclaimable: string }

const DEFAULT_FORMAT = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const HEADERS = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

/** "1.2MB (50%)" when there is a total to take a share of, as docker prints it. */
const withShare = (reclaimable: number, total: number) =>
  (total > 0 ? `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)` : humanSize(reclaimable));

export function diskUsageRows(usage: DiskUsage): DiskUsageRow[] {
  const images = usage.Images ?? [];
  const layersSize = usage.LayersSize ?? 0;
  const usedByContainers = images.filter((image) => image.Containers !== 0 && image.SharedSize !== -1)
    .reduce((total, image) => total + image.Size - image.SharedSize, 0);
  const containers = usage.Containers ?? [];
  const active = (container: ContainerSummary) => ['running', 'paused', 'restarting'].some((state) => container.State.includes(state));
  const containersSize = containers.reduce((total, container) => total + (container.SizeRw ?? 0), 0);
  const idleContainersSize = containers.filter((container) => !active(container)).reduce((total, container) => total + (container.SizeRw ?? 0), 0);
  const volumes = usage.Volumes ?? [];
  const volumeSize = (volume: Volume) => Math.max(volume.UsageData?.Size ?? 0, 0);
  const volumesSize = volumes.reduce((total, volume) => total + volumeSize(volume), 0);
  const idleVolumesSize = volumes.filter((volume) => (volume.UsageData?.RefCount ?? 0) === 0).reduce((total, volume) => total + volumeSize(volume), 0);
  const cache = usage.BuildCache ?? [];
  const cacheSize = cache.reduce((total, record) => total + record.Size, 0);
  return [
    {
      Type: 'Images', TotalCount: String(images.length), Active: String(images.filter((image) => image.Containers > 0).length),
      Size: humanSize(layersSize), Reclaimable: withShare(layersSize - usedByContainers, layersSize),
    },
    {
      Type: 'Containers', TotalCount: String(containers.length), Active: String(containers.filter(active).length),
      Size: humanSize(containersSize), Reclaimable: withShare(idleContainersSize, containersSize),
    },
    {
      Type: 'Local Volumes', TotalCount: String(volumes.length), Active: String(volumes.filter((volume) => (volume.UsageData?.RefCount ?? 0) > 0).length),
      Size: humanSize(volumesSize), Reclaimable: withShare(idleVolumesSize, volumesSize),
    },
    {
      Type: 'Build Cache', TotalCount: String(cache.length), Active: String(cache.filter((record) => record.InUse).length),
      Size: humanSize(cacheSize), Reclaimable: humanSize(cache.filter((record) => !record.InUse && !record.Shared).reduce((total, record) => total + record.Size, 0)),
    },
  ];
}

export const systemDfCommand: CommandSpec = {
  name: 'df',
  usage: '[OPTIONS]',
  description: 'Show docker disk usage',
  flags: [
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'verbose', short: 'v', type: 'bool', description: 'Show detailed information on space usage' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const usage = await invocation.ctx.client().json<DiskUsage>('GET', '/system/df');
    const format = chooseFormat({ format: stringFlag(invocation.flags, 'format') ?? '', defaultTable: DEFAULT_FORMAT });
    if (boolFlag(invocation.flags, 'verbose') && format !== 'json') {
      process.stdout.write(verboseDiskUsage(usage));
      return 0;
    }
    const rows = diskUsageRows(usage);
    if (format === 'json') {
      process.stdout.write(rows.map((row) => `${sortedJson({ ...row })}\n`).join(''));
      return 0;
    }
    process.stdout.write(renderFormatted(format, rows, HEADERS));
    return 0;
  },
};

const VERBOSE_IMAGE_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const VERBOSE_CONTAINER_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VERBOSE_VOLUME_FORMAT = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const VERBOSE_CACHE_FORMAT = 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';
const CACHE_HEADERS = {
  ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
};

/** docker's `system df -v` (DiskUsageContext.verboseWrite): an image is shown once, by its first tag. */
export function verboseDiskUsage(usage: DiskUsage, now = Date.now()): string {
  const images = (usage.Images ?? []).flatMap((image) => imageRows([{ ...image, RepoTags: (image.RepoTags ?? []).slice(0, 1), RepoDigests: [] }], { trunc: true, digests: false, now }));
  // The container table shows the writable layer's size only, not the virtual one.
  const containers = (usage.Containers ?? []).map((container) => containerRow({ ...container, SizeRootFs: 0 }, { trunc: true, now }));
  const volumes = (usage.Volumes ?? []).map(volumeRow);
  const cacheSize = (usage.BuildCache ?? []).reduce((total, record) => total + record.Size, 0);
  return `Images space usage:\n\n${renderFormatted(VERBOSE_IMAGE_FORMAT, images, IMAGE_HEADERS)}`
    + `\nContainers space usage:\n\n${renderFormatted(VERBOSE_CONTAINER_FORMAT, containers, PS_HEADERS)}`
    + `\nLocal Volumes space usage:\n\n${renderFormatted(VERBOSE_VOLUME_FORMAT, volumes, VOLUME_HEADERS)}`
    + `\nBuild cache usage: ${humanSize(cacheSize)}\n\n${renderFormatted(VERBOSE_CACHE_FORMAT, [], CACHE_HEADERS)}`;
}
