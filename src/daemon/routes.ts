// Wiring: the concrete services behind each route module's backend. The routes only know the
// narrow interfaces they declare; what spans two services (a list that counts the containers
// of each image, a prune that spares used images) is composed here.
import type { ContainerService } from '../containers/service.js';
import type { ExecService } from '../containers/exec.js';
import { ContainerFiles } from '../containers/archive.js';
import { ContainerChanges } from '../containers/changes.js';
import { ProcessControl } from '../containers/process-control.js';
import { StatsService } from '../containers/stats.js';
import type { DistributionService } from '../distribution/service.js';
import type { RegistryService } from '../distribution/search.js';
import type { EventBus } from '../events/bus.js';
import type { ImageArchive } from '../images/archive.js';
import { listImages } from '../images/list.js';
import type { ImagePruner } from '../images/prune.js';
import type { ImageService } from '../images/service.js';
import type { RouteTable } from '../server/server.js';
import { containerRoutes } from '../server/routes/containers.js';
import { distributionRoutes } from '../server/routes/distribution.js';
import { execRoutes } from '../server/routes/exec.js';
import { fileRoutes } from '../server/routes/files.js';
import { imageRoutes, type ImageBackend } from '../server/routes/images.js';
import { processRoutes } from '../server/routes/process.js';
import { volumeRoutes } from '../server/routes/volumes.js';
import { diskUsageRoutes, type DiskUsageBackend } from '../server/routes/disk-usage.js';
import type { VolumeStore } from '../volumes/store.js';
import { buildRoutes } from '../server/routes/build.js';
import type { BuildServices } from './build-services.js';
import type { NetworkService } from '../network/service.js';
import { notFound } from '../errdefs/errors.js';
import { networkRoutes, type NetworkBackend } from '../server/routes/networks.js';
import { systemRoutes, type SystemBackend, type SystemFacts } from '../server/routes/system.js';

export interface DaemonServices {
  facts: SystemFacts;
  events: EventBus;
  containers: ContainerService;
  execs: ExecService;
  images: ImageService;
  imageArchive: ImageArchive;
  imagePruner: ImagePruner;
  distribution: DistributionService;
  registries: RegistryService;
  cgroupParent: string;
  volumes: VolumeStore;
  build: BuildServices;
  networks: NetworkService;
}

export function apiRoutes(services: DaemonServices): RouteTable {
  const { containers, images } = services;
  const imageUsage = (): Map<string, number> => {
    const usage = new Map<string, number>();
    for (const record of containers.all()) usage.set(record.image, (usage.get(record.image) ?? 0) + 1);
    return usage;
  };
  const imageBackend: ImageBackend = {
    get: (reference) => images.get(reference),
    inspect: (record) => images.inspect(record),
    history: (record) => images.history(record),
    tag: (source, repo, tag) => images.tag(source, repo, tag),
    remove: (reference, options) => images.remove(reference, options),
    importRootfs: (tar, options) => images.importRootfs(tar, options),
    list: (filters, all) => {
      const summaries = listImages(images, filters, imageUsage());
      if (all) return summaries;
      const intermediate = services.build.intermediateImages();
      return summaries.filter((summary) => !(intermediate.has(summary.Id) && summary.RepoTags.length === 0));
    },
    prune: (filters) => {
      const usage = imageUsage();
      return services.imagePruner.prune(filters, (id) => usage.has(id));
    },
  };
  const systemBackend: SystemBackend = {
    counts: () => {
      const all = containers.all();
      return {
        containers: all.length,
        running: all.filter((record) => record.state.Running && !record.state.Paused).length,
        paused: all.filter((record) => record.state.Paused).length,
        images: images.list().length,
      };
    },
    events: services.events,
  };
  const diskUsage: DiskUsageBackend = {
    images: () => listImages(images, new Map(), imageUsage()),
    containers: () => containers.list({ all: true, size: true, filters: new Map() }),
    volumes: () => Promise.all(services.volumes.list().map(async (volume) => ({
      ...volume, UsageData: { Size: await services.volumes.size(volume.Name), RefCount: services.volumes.usedBy(volume.Name).length },
    }))),
  };
  const { networks } = services;
  const networkBackend: NetworkBackend = {
    list: (filters) => networks.list(filters),
    inspect: (reference, scope) => {
      const network = networks.get(reference);
      if (scope && scope !== 'local') throw notFound(`network ${reference} not found`);
      return networks.inspect(network);
    },
    create: (request) => networks.create(request),
    remove: (reference) => networks.remove(reference),
    prune: (filters) => networks.prune(filters),
    connect: (network, container, config) => containers.connectNetwork(network, container, config),
    disconnect: (network, container, force) => containers.disconnectNetwork(network, container, force),
  };
  const cgroups = { cgroupParent: services.cgroupParent };
  return [
    ...systemRoutes(services.facts, systemBackend),
    ...containerRoutes(containers),
    ...execRoutes(services.execs),
    ...fileRoutes(new ContainerFiles(containers), new ContainerChanges(containers, images)),
    ...processRoutes(new ProcessControl(containers, cgroups), new StatsService(containers, cgroups)),
    ...distributionRoutes(services.registries),
    ...imageRoutes(imageBackend, services.distribution, services.imageArchive),
    ...volumeRoutes(services.volumes),
    ...networkRoutes(networkBackend),
    ...diskUsageRoutes(diskUsage),
    ...buildRoutes({
      commit: (container, options) => services.build.commits.commit(container, options),
      tag: (imageId, repo, tag) => images.tag(imageId, repo, tag),
    }, services.build.builder),
  ];
}
