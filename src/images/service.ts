// The image service: what the daemon and the API routes need from images.
//
// Lifecycle of an image: it comes in (import of a root filesystem tarball now; pull and load
// later), which writes its layers into the layer store and its config blob into the content
// store, the config's sha256 being the image ID; it is named by tags (repositories.json);
// containers are created from it; rmi untags it and, when no tag and no container is left,
// deletes its record, its config blob, and every layer no other image uses.
import type { Readable } from 'node:stream';
import type { ImageConfigFile, ImageHistoryItem, ImageInspect, ImageSummary } from '../wire/types.js';

export interface ImageRecord {
  /** "sha256:<64 hex>", the digest of the config blob. */
  id: string;
  config: ImageConfigFile;
  /** Chain ID of the top layer, or null for an image without layers. */
  topChainId: string | null;
  /** Familiar tagged names pointing at it, e.g. "busybox:latest", "127.0.0.1:5000/me/app:v1". */
  repoTags: string[];
  repoDigests: string[];
  /** RFC 3339; when it was last tagged (Metadata.LastTagTime). */
  lastTagTime: string;
}

/** Who uses an image: the image service asks the container side before deleting. */
export type ContainersUsingImage = (imageId: string) => Array<{ id: string; running: boolean }>;

export interface ImportOptions {
  repo?: string;
  tag?: string;
  /** Dockerfile instructions: "CMD [\"sh\"]", "ENV A=b", "WORKDIR /x", "EXPOSE 80", "USER u", "LABEL a=b", "ENTRYPOINT ...", "STOPSIGNAL ...", "VOLUME ..." */
  changes?: string[];
  message?: string;
  /** The source name shown in history ("Imported from -" or a URL/file). */
  source?: string;
  platform?: { os: string; architecture: string };
}

export interface DeleteResult { Untagged?: string; Deleted?: string }

export interface ImageService {
  /** Reads the stores from disk (called once at daemon start). */
  init(): Promise<void>;
  /** By "name[:tag]", "name@digest", full or short ID (with or without "sha256:"). Undefined when none. */
  resolve(ref: string): ImageRecord | undefined;
  /** Like resolve, but throws Docker's errors: invalid parameter (invalid reference) or not found ("No such image: busybox:latest"). */
  get(ref: string): ImageRecord;
  list(): ImageRecord[];
  /** Imports a root filesystem tarball (plain, gzip, bzip2 or xz) as a one-layer image. */
  importRootfs(tar: Readable, options: ImportOptions): Promise<ImageRecord>;
  /** Stores a new image from a config whose layers (rootfs.diff_ids) are all in the layer store on the given chain. */
  createFromConfig(config: ImageConfigFile): Promise<ImageRecord>;
  /** Tags source (any ref resolve accepts) as repo[:tag]; throws 404 (No such image) / 400 (invalid reference). */
  tag(source: string, repo: string, tag?: string): Promise<void>;
  /** Records a "repository@digest" reference (after pull/push by digest). */
  addRepoDigest(imageId: string, repository: string, digest: string): Promise<void>;
  /** Removes layers no image uses, except the chains in inUse (e.g. containers of force-deleted images); returns their chain IDs. */
  pruneLayers(inUse?: Iterable<string>): Promise<string[]>;
  /** docker rmi semantics; throws not-found / conflict errors with Docker's wording. */
  remove(ref: string, options: { force: boolean; noPrune: boolean }): Promise<DeleteResult[]>;
  inspect(record: ImageRecord): ImageInspect;
  summary(record: ImageRecord, containersUsing: number): ImageSummary;
  history(record: ImageRecord): ImageHistoryItem[];
  /** Overlay lowerdirs for the image's layers, top layer first, relative to layersRoot (short links). */
  lowerDirs(topChainId: string | null): Promise<string[]>;
  /** The directory overlay's relative lowerdirs are resolved against (mount runs with this cwd). */
  readonly layersRoot: string;
}
