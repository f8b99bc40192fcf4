// Wiring of commit and the builder: the image committer over the layer store, the container
// committer over it, the build cache, and what the builder asks of distribution and tags.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildCache } from '../build/cache.js';
import { Builder, type BuildMessage } from '../build/builder.js';
import { ContainerCommitter } from '../containers/commit.js';
import type { ContainerService } from '../containers/service.js';
import type { DistributionService } from '../distribution/service.js';
import { pullReference } from '../distribution/service.js';
import { badParameter, notFound } from '../errdefs/errors.js';
import { ImageCommitter } from '../images/commit.js';
import { familiarString, normalizeTagged, parseReference } from '../images/reference.js';
import type { ImageService } from '../images/service.js';
import { unmount } from '../layers/overlay.js';
import type { LayerStore } from '../layers/store.js';

export interface BuildServices {
  commits: ContainerCommitter;
  builder: Builder;
  /** Images a build step was made on: `images` hides them unless -a. */
  intermediateImages(): Set<string>;
}

/** What builds cut short by a crash left: their contexts, and images mounted for COPY --from (unmounted first). */
async function removeInterruptedBuilds(tmpDir: string): Promise<void> {
  const builds = (await readdir(tmpDir).catch(() => [] as string[])).filter((name) => name.startsWith('build-'));
  for (const build of builds) {
    const dir = join(tmpDir, build);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith('from-')) await unmount(join(dir, name)).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true }).catch((error: unknown) => process.stderr.write(`berthd: removing ${dir}: ${String(error)}\n`));
  }
}

export async function buildServices(options: {
  dataRoot: string; containers: ContainerService; images: ImageService; layers: LayerStore; distribution: DistributionService;
}): Promise<BuildServices> {
  const { containers, images, distribution } = options;
  const imageCommits = new ImageCommitter(images, options.layers);
  const commits = new ContainerCommitter(containers, images, imageCommits);
  const cache = new BuildCache(join(options.dataRoot, 'build'), (id) => images.resolve(id));
  await cache.init();
  await removeInterruptedBuilds(join(options.dataRoot, 'tmp'));
  const tagged = (name: string) => {
    try {
      return normalizeTagged(parseReference(name));
    } catch {
      throw badParameter(name === name.toLowerCase() ? 'invalid reference format' : 'invalid reference format: repository name must be lowercase');
    }
  };
  const builder = new Builder({
    containers, images, commits, imageCommits, cache,
    pull: async (name: string, write: (message: BuildMessage) => void) => {
      await distribution.pull(pullReference(name, undefined), (message) => write(message as BuildMessage));
      const record = images.resolve(name);
      if (!record) throw notFound(`pull access denied for ${name}, repository does not exist or may require 'docker login'`);
      return record;
    },
    tag: async (imageId: string, name: string) => {
      const reference = tagged(name);
      const familiar = familiarString(reference);
      const colon = familiar.lastIndexOf(':');
      await images.tag(imageId, familiar.slice(0, colon), familiar.slice(colon + 1));
      return familiar;
    },
    checkTag: (name: string) => { tagged(name); },
  }, join(options.dataRoot, 'tmp'));
  return { commits, builder, intermediateImages: () => cache.parents() };
}
