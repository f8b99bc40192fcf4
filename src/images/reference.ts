// Docker image references: parsing, validation and normalisation as docker/distribution's
// reference package does it ("busybox" is docker.io/library/busybox:latest), and the
// "familiar" short form Docker shows back. Pure functions.

export interface Reference {
  /** Registry host[:port], "docker.io" for Docker Hub. */
  domain: string;
  /** Repository path inside the registry, "library/busybox" for official images. */
  path: string;
  tag?: string;
  /** "sha256:<hex>" */
  digest?: string;
}

export class ReferenceError extends Error {}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6Address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainAndPort = `(?:${domainName}|${ipv6Address})(?::[0-9]+)?`;
const namePattern = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const REFERENCE = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const TAG = new RegExp(`^${tagPattern}$`);
const FULL_ID = /^[a-f0-9]{64}$/;
const ID_PREFIX = /^(?:sha256:)?[a-f0-9]+$/;

/** Parses and normalises a reference ("busybox", "me/app:v1", "host:5000/x@sha256:..."). */
export function parseReference(input: string): Reference {
  if (FULL_ID.test(input)) {
    throw new ReferenceError(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(input);
  const tagSeparator = remainder.indexOf(':');
  const remoteName = tagSeparator >= 0 ? remainder.slice(0, tagSeparator) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new ReferenceError(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  const match = REFERENCE.exec(`${domain}/${remainder}`);
  if (!match) throw new ReferenceError('invalid reference format');
  const name = match[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new ReferenceError(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const reference: Reference = { domain, path: name.slice(domain.length + 1) };
  if (match[2] !== undefined) reference.tag = match[2];
  if (match[3] !== undefined) reference.digest = validateDigest(match[3]);
  return reference;
}

function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = slash >= 0 ? name.slice(0, slash) : '';
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

function validateDigest(digest: string): string {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  const expected = lengths[algorithm];
  if (expected === undefined) throw new ReferenceError('unsupported digest algorithm');
  if (encoded.length !== expected) throw new ReferenceError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(encoded)) throw new ReferenceError('invalid checksum digest format');
  return digest;
}

/** Validates a tag on its own (POST /images/{name}/tag?tag=...). */
export function validateTag(tag: string): void {
  if (!TAG.test(tag)) throw new ReferenceError('invalid tag format');
}

/** The full repository name: "docker.io/library/busybox". */
export function repositoryName(reference: Reference): string {
  return `${reference.domain}/${reference.path}`;
}

/** The name Docker shows: "busybox", "me/app", "127.0.0.1:5000/me/app". */
export function familiarName(reference: Reference): string {
  if (reference.domain !== DEFAULT_DOMAIN) return `${reference.domain}/${reference.path}`;
  if (reference.path.startsWith(OFFICIAL_REPO_PREFIX) && !reference.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return reference.path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return reference.path;
}

/** "busybox:latest", "me/app@sha256:...", "host:5000/app:v1@sha256:..." */
export function familiarString(reference: Reference): string {
  let text = familiarName(reference);
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}

/** The fully qualified string: "docker.io/library/busybox:latest". */
export function fullString(reference: Reference): string {
  let text = repositoryName(reference);
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}

/** Adds the "latest" tag to a reference that has neither tag nor digest. */
export function normalizeTagged(reference: Reference): Reference {
  if (reference.tag !== undefined || reference.digest !== undefined) return reference;
  return { ...reference, tag: DEFAULT_TAG };
}

/** Whether `input` could be (a prefix of) an image ID: hex, optionally "sha256:"-prefixed. */
export function looksLikeIdPrefix(input: string): boolean {
  return ID_PREFIX.test(input);
}

/** Whether `input` is a prefix of `id` ("sha256:<hex>"), with or without the "sha256:" part. */
export function isIdPrefix(id: string, input: string): boolean {
  if (input === '') return false;
  return id.startsWith(input) || id.slice(id.indexOf(':') + 1).startsWith(input);
}
