// How a container looks from outside: inspect, the `docker ps` summary and list, and its sizes.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerInspect, ContainerSummary, NetworkSettings } from '../wire/types.js';
import type { ContainerCore } from './core.js';
import { etcFilePaths } from './etc-files.js';
import { listContainers, type ContainerListOptions } from './list.js';
import type { ContainerRecord } from './record.js';
import { containerStatusText } from './status.js';
import { inspectMount } from '../volumes/mounts.js';
import { networkContainer } from './network-hook.js';

export class ContainerViews {
  constructor(private readonly core: ContainerCore, private readonly lookup: { all(): ContainerRecord[]; get(reference: string): ContainerRecord }) {}

  inspect(record: ContainerRecord): ContainerInspect {
    const { core } = this;
    const paths = core.containerPaths(record);
    const etc = etcFilePaths(paths.directory);
    return {
      Id: record.id, Created: record.created, Path: record.path, Args: record.args, State: record.state,
      Image: record.image, ResolvConfPath: etc.resolvConf, HostnamePath: etc.hostname, HostsPath: etc.hosts,
      LogPath: core.logPath(record), Name: record.name, RestartCount: record.restartCount, Driver: 'overlay2',
      Platform: 'linux', MountLabel: '', ProcessLabel: '', AppArmorProfile: '', ExecIDs: nonEmptyOrNull(core.options.execIds?.(record.id)),
      HostConfig: record.hostConfig,
      GraphDriver: {
        Name: 'overlay2',
        Data: { MergedDir: paths.rootfs, UpperDir: paths.upper, WorkDir: paths.work },
      },
      Mounts: (record.mountPoints ?? []).map(inspectMount),
      Config: record.config,
      NetworkSettings: this.networkSettings(record),
    };
  }

  /**
   * Inspect as the API sends it (JSON and a newline), serialised once and kept until the record
   * is saved (the store drops it), a network record moves, or the container's running execs
   * change: under many clients an inspect is a Map look-up, not a JSON build.
   */
  inspectJson(record: ContainerRecord): Buffer {
    const { core } = this;
    const execIds = core.options.execIds?.(record.id).join(',') ?? '';
    const networkGeneration = core.options.networks?.generation ?? 0;
    const kept = core.inspectBodies.get(record.id);
    if (kept && kept.execIds === execIds && kept.networkGeneration === networkGeneration) return kept.json;
    const json = Buffer.from(JSON.stringify(this.inspect(record)) + '\n');
    // A record removed meanwhile is not kept for ever.
    if (core.records.get(record.id) === record) core.inspectBodies.set(record.id, { json, execIds, networkGeneration });
    return json;
  }

  /** `docker ps`: the containers the options select, newest first. */
  list(options: ContainerListOptions): Promise<ContainerSummary[]> {
    return listContainers({
      all: () => this.lookup.all(), get: (reference) => this.lookup.get(reference), summary: (record) => this.summary(record),
      sizes: (record) => this.sizes(record), imageId: (reference) => this.core.options.images.resolve(reference)?.id,
    }, options);
  }

  summary(record: ContainerRecord): ContainerSummary {
    const image = this.core.options.images.resolve(record.config.Image ?? '');
    const settings = this.networkSettings(record);
    const networks = this.core.options.networks;
    return {
      Id: record.id, Names: [record.name],
      // Docker shows the image ID once the name no longer points at the container's image.
      Image: image && image.id === record.image ? record.config.Image ?? record.image : record.image,
      ImageID: record.image,
      Command: [record.path, ...record.args].join(' '),
      Created: Math.floor(Date.parse(record.created) / 1000),
      Ports: networks ? networks.summaryPorts(networkContainer(record)) : [], Labels: record.config.Labels ?? {}, State: record.state.Status, Status: containerStatusText(record.state),
      HostConfig: { NetworkMode: record.hostConfig.NetworkMode ?? 'default' },
      NetworkSettings: { Networks: settings.Networks }, Mounts: (record.mountPoints ?? []).map(inspectMount),
    };
  }

  /** SizeRw: bytes in the container's writable layer; SizeRootFs: that plus its image's layers. */
  async sizes(record: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const { images } = this.core.options;
    const rw = await directorySize(this.core.containerPaths(record).upper);
    const image = images.resolve(record.image);
    return { SizeRw: rw, SizeRootFs: rw + (image ? images.inspect(image).Size : 0) };
  }

  private networkSettings(record: ContainerRecord): NetworkSettings {
    const networks = this.core.options.networks;
    return networks ? networks.settings(networkContainer(record)) as unknown as NetworkSettings : loopbackSettings(record);
  }
}

function loopbackSettings(record: ContainerRecord): NetworkSettings {
  const mode = record.hostConfig.NetworkMode === 'default' ? 'bridge' : record.hostConfig.NetworkMode ?? 'bridge';
  return record.networkSettings ?? {
    Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '',
    Networks: { [mode]: { NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' } },
  };
}

function nonEmptyOrNull(ids: string[] | undefined): string[] | null {
  return ids && ids.length > 0 ? ids : null;
}

async function directorySize(path: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) total += await directorySize(child);
    else if (entry.isFile()) total += (await lstat(child)).size;
  }
  return total;
}
