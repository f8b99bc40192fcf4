// Image references as the docker CLI handles them client-side: split name/tag/digest, the
// "familiar" short form (busybox rather than docker.io/library/busybox), and ":latest".

export interface ParsedReference {
  /** Repository name as written (without tag or digest). */
  name: string;
  tag?: string;
  digest?: string;
}

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

export class ReferenceError extends Error {
  override name = 'ReferenceError';
}

/** Parse "name[:tag][@digest]"; throws ReferenceError("invalid reference format...") like distribution/reference. */
export function parseReference(text: string): ParsedReference {
  if (text === '') throw new ReferenceError('invalid reference format');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError('invalid reference format');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError('invalid reference format');
  }
  const components = rest.split('/');
  // The first component may be a registry host (has a dot, a port, or is localhost).
  const first = components[0]!;
  const hasDomain = components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  const pathComponents = hasDomain ? components.slice(1) : components;
  for (const component of pathComponents) {
    if (!NAME_COMPONENT.test(component)) {
      if (component.toLowerCase() !== component && NAME_COMPONENT.test(component.toLowerCase())) {
        throw new ReferenceError(`invalid reference format: repository name (${pathComponents.join('/')}) must be lowercase`);
      }
      throw new ReferenceError('invalid reference format');
    }
  }
  return { name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** reference.FamiliarName: drop docker.io/ and library/. */
export function familiarName(name: string): string {
  let rest = name;
  for (const prefix of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) {
    if (rest.startsWith(prefix)) {
      rest = rest.slice(prefix.length);
      if (rest.startsWith('library/') && rest.split('/').length === 2) rest = rest.slice('library/'.length);
      break;
    }
  }
  return rest;
}

/** reference.FamiliarString(reference.TagNameOnly(ref)): "busybox" → "busybox:latest". */
export function familiarWithDefaultTag(text: string): string {
  const ref = parseReference(text);
  let out = familiarName(ref.name);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  else if (ref.digest === undefined) out += ':latest';
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** The query of POST /images/create?fromImage=..&tag=.. for a pull, as Docker's client builds it. */
export function pullQuery(text: string): { fromImage: string; tag: string } {
  const ref = parseReference(text);
  return { fromImage: familiarName(ref.name), tag: ref.digest ?? ref.tag ?? 'latest' };
}

/** A tag target "repo[:tag]" split for POST /images/{name}/tag; digests are refused like docker does. */
export function tagTarget(text: string): { repo: string; tag: string } {
  const ref = parseReference(text);
  if (ref.digest !== undefined) throw new ReferenceError('refusing to create a tag with a digest reference');
  return { repo: familiarName(ref.name), tag: ref.tag ?? 'latest' };
}
