// Registry manifests: the media types berth understands, parsing and validation of Docker
// schema 2 / OCI image manifests and of manifest lists / OCI indexes, platform selection,
// and building the schema 2 manifest a push sends. Pure functions.

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
} as const;

/** The Accept header of a manifest GET: every kind we can pull, images before lists. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex,
];

const LAYER_MEDIA_TYPES = new Set<string>([
  MEDIA_TYPES.dockerLayerGzip, MEDIA_TYPES.dockerForeignLayerGzip, MEDIA_TYPES.ociLayer, MEDIA_TYPES.ociLayerGzip,
  MEDIA_TYPES.ociLayerZstd, MEDIA_TYPES.ociNondistributableLayerGzip,
]);

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export class ManifestError extends Error {}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageManifest {
  kind: 'image';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ManifestList {
  kind: 'list';
  mediaType: string;
  manifests: Array<Descriptor & { platform?: Platform }>;
}

export type ParsedManifest = ImageManifest | ManifestList;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function descriptor(value: unknown, what: string): Descriptor {
  if (!isRecord(value)) throw new ManifestError(`invalid manifest: ${what} is not an object`);
  const { mediaType, digest, size, urls } = value;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new ManifestError(`invalid manifest: ${what} has an unsupported digest ${String(digest)}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new ManifestError(`invalid manifest: ${what} has an invalid size`);
  const result: Descriptor = { mediaType: typeof mediaType === 'string' ? mediaType : '', digest, size };
  if (Array.isArray(urls)) result.urls = urls.filter((url): url is string => typeof url === 'string');
  return result;
}

/**
 * Parses a manifest body. `contentType` is the response's Content-Type; the body's own
 * mediaType wins when present (registries answer application/json for some OCI manifests).
 */
export function parseManifest(bytes: Buffer, contentType = ''): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ManifestError('invalid manifest: not JSON');
  }
  if (!isRecord(body)) throw new ManifestError('invalid manifest: not a JSON object');
  const declared = typeof body.mediaType === 'string' && body.mediaType !== '' ? body.mediaType : contentType.split(';')[0]!.trim();
  if (body.schemaVersion === 1) throw new ManifestError('unsupported manifest format: Docker image manifest schema 1 is deprecated');
  if (body.schemaVersion !== 2) throw new ManifestError(`unsupported manifest schema version ${String(body.schemaVersion)}`);
  const isList = declared === MEDIA_TYPES.dockerManifestList || declared === MEDIA_TYPES.ociIndex
    || (declared !== MEDIA_TYPES.dockerManifest && declared !== MEDIA_TYPES.ociManifest && Array.isArray(body.manifests));
  if (isList) {
    if (!Array.isArray(body.manifests)) throw new ManifestError('invalid manifest list: no manifests');
    const manifests = body.manifests.map((entry, index) => {
      const parsed: Descriptor & { platform?: Platform } = descriptor(entry, `manifests[${index}]`);
      const platform = isRecord(entry) ? entry.platform : undefined;
      if (isRecord(platform) && typeof platform.os === 'string' && typeof platform.architecture === 'string') {
        parsed.platform = { os: platform.os, architecture: platform.architecture };
        if (typeof platform.variant === 'string' && platform.variant !== '') parsed.platform.variant = platform.variant;
      }
      return parsed;
    });
    return { kind: 'list', mediaType: declared || MEDIA_TYPES.ociIndex, manifests };
  }
  if (declared !== '' && declared !== MEDIA_TYPES.dockerManifest && declared !== MEDIA_TYPES.ociManifest) {
    throw new ManifestError(`unsupported manifest media type ${declared}`);
  }
  const config = descriptor(body.config, 'config');
  if (!Array.isArray(body.layers)) throw new ManifestError('invalid manifest: no layers');
  const layers = body.layers.map((entry, index) => {
    const layer = descriptor(entry, `layers[${index}]`);
    if (!LAYER_MEDIA_TYPES.has(layer.mediaType)) throw new ManifestError(`unsupported layer media type ${layer.mediaType}`);
    return layer;
  });
  return { kind: 'image', mediaType: declared || MEDIA_TYPES.ociManifest, config, layers };
}

/** The CPU variant Docker assumes when a platform names none (arm64 is v8, arm is v7). */
function defaultVariant(architecture: string): string | undefined {
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return undefined;
}

/**
 * The entry of a manifest list for `wanted` (containerd's platform matcher, simplified):
 * same os and architecture; the wanted variant (or the default one) preferred, then an entry
 * without a variant, then any variant. Undefined when none matches.
 */
export function selectPlatform<T extends { platform?: Platform }>(manifests: readonly T[], wanted: Platform): T | undefined {
  const candidates = manifests.filter((entry) => entry.platform?.os === wanted.os && entry.platform.architecture === wanted.architecture);
  const variant = wanted.variant ?? defaultVariant(wanted.architecture);
  return candidates.find((entry) => (entry.platform?.variant ?? defaultVariant(wanted.architecture)) === variant)
    ?? candidates.find((entry) => entry.platform?.variant === undefined)
    ?? candidates[0];
}

export function platformString(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** Checks that an image config matches its manifest: as many diff IDs as layers. */
export function checkConfigMatchesManifest(diffIds: readonly string[], manifest: ImageManifest): void {
  if (diffIds.length !== manifest.layers.length) {
    throw new ManifestError(`invalid image: the config has ${diffIds.length} layers (diff_ids) but the manifest lists ${manifest.layers.length}`);
  }
}

export function isGzipLayer(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.dockerLayerGzip || mediaType === MEDIA_TYPES.ociLayerGzip;
}

/**
 * The manifest a push sends: Docker schema 2 when every layer is gzip (as docker push does),
 * otherwise an OCI manifest (zstd or plain layers kept from an OCI pull). Indented with three
 * spaces, as Docker's json.MarshalIndent writes it, so the digests match docker push's.
 */
export function buildManifest(config: { digest: string; size: number }, layers: readonly Descriptor[]): { mediaType: string; bytes: Buffer } {
  const docker = layers.every((layer) => isGzipLayer(layer.mediaType));
  if (docker) {
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifest,
      config: { mediaType: MEDIA_TYPES.dockerConfig, size: config.size, digest: config.digest },
      layers: layers.map((layer) => ({ mediaType: MEDIA_TYPES.dockerLayerGzip, size: layer.size, digest: layer.digest })),
    };
    return { mediaType: MEDIA_TYPES.dockerManifest, bytes: Buffer.from(JSON.stringify(manifest, null, 3)) };
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: config.digest, size: config.size },
    layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size })),
  };
  return { mediaType: MEDIA_TYPES.ociManifest, bytes: Buffer.from(JSON.stringify(manifest, null, 2)) };
}
