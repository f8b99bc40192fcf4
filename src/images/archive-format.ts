// The layout of a `docker save` archive (Docker 25 and later): the names of its files and the
// pure builders of manifest.json, repositories, the OCI index and manifests and the legacy v1
// JSON of each layer. src/images/archive.ts writes it.
import type { ImageConfigFile } from '../wire/types.js';
import { digestHex, sha256Digest } from '../content/store.js';
import { MEDIA_TYPES } from './manifest.js';
import { chainIdsOf } from '../layers/store.js';
import { familiarName, familiarString, fullString, type Reference } from './reference.js';
import { emptyContainerConfig } from './store.js';

const EPOCH = '1970-01-01T00:00:00Z';

export const MANIFEST_FILE = 'manifest.json';

export const REPOSITORIES_FILE = 'repositories';

export const OCI_LAYOUT_FILE = 'oci-layout';

export const OCI_INDEX_FILE = 'index.json';

export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion": "1.0.0"}';

export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

// ---- shapes -------------------------------------------------------------------------------------

/** One image of a save: its config bytes (whose digest is its ID) and the tags it is saved with. */
export interface SaveItem {
  id: string;
  rawConfig: Buffer;
  config: ImageConfigFile;
  /** Tagged references, in the order they were asked for. */
  tags: Reference[];
}

interface LayerSource { mediaType: string; size: number; digest: string }

/** An entry of manifest.json as Docker writes it (Go field order). */
export interface ArchiveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  Parent?: string;
  LayerSources?: Record<string, LayerSource>;
}

/** Everything of a save but the layer tars: small files by path, blobs by hex. */
export interface ArchiveMetadata {
  manifestJson: string;
  repositories: string | undefined;
  indexJson: string;
  /** Configs, OCI manifests and v1 layer JSON, by digest hex. */
  blobs: Map<string, { data: Buffer; mtime: string }>;
  /** Layer tars by diff ID hex. */
  layers: Map<string, { diffId: string; size: number; mtime: string }>;
}

// ---- pure pieces of the writer -------------------------------------------------------------------

/** JSON as Go's encoding/json writes it: <, > and & escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The image part of a legacy v1 layer JSON (image.V1Image, Go field order, omitempty as Go omits). */
function v1ImageFields(config: ImageConfigFile | undefined): Record<string, unknown> {
  if (!config) return { created: EPOCH, container_config: emptyContainerConfig() };
  const fields: Record<string, unknown> = {};
  if (config.comment) fields.comment = config.comment;
  fields.created = config.created ?? null;
  if (config.container) fields.container = config.container;
  fields.container_config = config.container_config ?? emptyContainerConfig();
  if (config.docker_version) fields.docker_version = config.docker_version;
  if (config.author) fields.author = config.author;
  if (config.config) fields.config = config.config;
  if (config.architecture) fields.architecture = config.architecture;
  if (config.variant) fields.variant = config.variant;
  return fields;
}

/**
 * The legacy v1 ID and JSON of each layer (v1.CreateID): the ID is the digest of the layer's
 * v1 JSON with its chain ID and parent's v1 ID added, keys sorted; only the top layer carries
 * the image's own fields.
 */
export function legacyLayers(config: ImageConfigFile): Array<{ id: string; json: string }> {
  const diffIds = config.rootfs.diff_ids;
  const chain = chainIdsOf(diffIds);
  const result: Array<{ id: string; json: string }> = [];
  let parent = '';
  for (let index = 0; index < diffIds.length; index++) {
    const top = index === diffIds.length - 1;
    const fields = v1ImageFields(top ? config : undefined);
    // Docker sets the OS of the lower layers only after computing their IDs.
    if (top && config.os) fields.os = config.os;
    const forId: Record<string, unknown> = { ...fields, layer_id: chain[index] };
    if (!top && config.os) fields.os = config.os;
    if (parent) forId.parent = parent;
    const sorted = Object.fromEntries(Object.entries(forId).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const id = sha256Digest(goJson(sorted));
    const json = goJson({ id: digestHex(id), ...(parent ? { parent: digestHex(parent) } : {}), ...fields });
    result.push({ id, json });
    parent = id;
  }
  return result;
}

function sortedRecord<T>(entries: Iterable<[string, T]>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** manifest.json, repositories, index.json and the small blobs of a save, as Docker 25+ writes them. */
export function buildArchiveMetadata(items: readonly SaveItem[], layerSizes: ReadonlyMap<string, number>): ArchiveMetadata {
  const blobs = new Map<string, { data: Buffer; mtime: string }>();
  const layers = new Map<string, { diffId: string; size: number; mtime: string }>();
  const manifest: ArchiveManifestEntry[] = [];
  const repositories = new Map<string, Map<string, string>>();
  const indexManifests: Array<Record<string, unknown>> = [];

  for (const item of items) {
    const diffIds = item.config.rootfs.diff_ids;
    if (diffIds.length === 0) throw new Error('empty export - not implemented');
    const created = item.config.created ?? EPOCH;
    for (const legacy of legacyLayers(item.config)) {
      blobs.set(digestHex(sha256Digest(legacy.json)), { data: Buffer.from(legacy.json), mtime: created });
    }
    const sources = new Map<string, LayerSource>();
    for (const diffId of diffIds) {
      const size = layerSizes.get(diffId);
      if (size === undefined) throw new Error(`no size known for layer ${diffId}`);
      if (!layers.has(digestHex(diffId))) layers.set(digestHex(diffId), { diffId, size, mtime: created });
      sources.set(diffId, { mediaType: MEDIA_TYPES.ociLayer, size, digest: diffId });
    }
    blobs.set(digestHex(item.id), { data: item.rawConfig, mtime: created });

    const ociManifest = goJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: item.id, size: item.rawConfig.length },
      layers: diffIds.map((diffId) => ({ mediaType: MEDIA_TYPES.ociLayer, digest: diffId, size: sources.get(diffId)!.size })),
    });
    const manifestDigest = sha256Digest(ociManifest);
    blobs.set(digestHex(manifestDigest), { data: Buffer.from(ociManifest), mtime: EPOCH });
    const descriptor = { mediaType: MEDIA_TYPES.ociManifest, digest: manifestDigest, size: Buffer.byteLength(ociManifest) };

    const repoTags: string[] = [];
    for (const tag of item.tags) {
      const name = familiarName(tag);
      const byTag = repositories.get(name) ?? new Map<string, string>();
      byTag.set(tag.tag!, digestHex(diffIds[diffIds.length - 1]!));
      repositories.set(name, byTag);
      repoTags.push(familiarString(tag));
      indexManifests.push({ ...descriptor, annotations: { [ANNOTATION_IMAGE_NAME]: fullString(tag), [ANNOTATION_REF_NAME]: tag.tag! } });
    }
    if (item.tags.length === 0) indexManifests.push(descriptor);

    manifest.push({
      Config: `blobs/sha256/${digestHex(item.id)}`,
      RepoTags: repoTags.length > 0 ? repoTags : null,
      Layers: diffIds.map((diffId) => `blobs/sha256/${digestHex(diffId)}`),
      LayerSources: sortedRecord(sources),
    });
  }

  const repositoriesJson = repositories.size > 0
    ? goJson(sortedRecord([...repositories].map(([name, byTag]) => [name, sortedRecord(byTag)]))) + '\n'
    : undefined;
  return {
    manifestJson: goJson(manifest) + '\n',
    repositories: repositoriesJson,
    indexJson: goJson({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: indexManifests }),
    blobs,
    layers,
  };
}
