// `system df`: the summary table of docker's formatter/disk_usage.go, from GET /system/df.
import type { ContainerSummary, ImageSummary, Volume } from '../../wire/types.js';
import { stringFlag, type CommandSpec } from '../command.js';
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
  flags: [{ name: 'format', type: 'string', description: 'Format output using a custom template' }],
  args: { max: 0 },
  async run(invocation) {
    const usage = await invocation.ctx.client().json<DiskUsage>('GET', '/system/df');
    const format = chooseFormat({ format: stringFlag(invocation.flags, 'format') ?? '', defaultTable: DEFAULT_FORMAT });
    const rows = diskUsageRows(usage);
    if (format === 'json') {
      process.stdout.write(rows.map((row) => `${sortedJson({ ...row })}\n`).join(''));
      return 0;
    }
    process.stdout.write(renderFormatted(format, rows, HEADERS));
    return 0;
  },
};
