// The daemon's registry requests besides pull and push, as Docker's registry service answers
// them: login (POST /auth: GET /v2/ through the auth flow with the given credentials) and
// search (GET /images/search). Docker Hub is searched through its index API; any other
// registry has no search API, so its /v2/_catalog is listed and filtered by the term.
import { STATUS_CODES } from 'node:http';
import { badParameter, serverError, unauthorized } from '../errdefs/errors.js';
import type { AuthConfig, AuthResponse, ImageSearchResult } from '../wire/types.js';
import { TokenCache } from './auth.js';
import { RegistryClient, RegistryConnectionError, RegistryError } from './registry-client.js';
import { INDEX_HOSTNAME, INDEX_NAME, INDEX_SERVER, loginHost, type RegistryHosts, splitSearchTerm } from './registry-hosts.js';

const DEFAULT_SEARCH_LIMIT = 25;
const SEARCH_FILTERS = ['is-automated', 'is-official', 'stars'];

export interface SearchRequest {
  term: string;
  /** 0 or undefined: Docker's default of 25. */
  limit?: number;
  filters: Map<string, string[]>;
  auth: AuthConfig;
}

/** A registry failure as the API answers it: unauthorized when the registry refused the credentials. */
function apiErrorOf(error: unknown): unknown {
  if (error instanceof RegistryError) return error.code === 'UNAUTHORIZED' ? unauthorized(error.message) : serverError(error.message);
  if (error instanceof RegistryConnectionError) return serverError(error.message);
  return error;
}

function boolFilter(filters: Map<string, string[]>, key: string): boolean | undefined {
  const values = filters.get(key);
  if (values === undefined) return undefined;
  const isTrue = values.some((value) => value === '1' || value === 'true');
  const isFalse = values.some((value) => value === '0' || value === 'false');
  if (isTrue === isFalse) throw badParameter(values.length === 0 ? `invalid filter '${key}'` : `invalid filter '${key}=${values.join(',')}'`);
  return isTrue;
}

export class RegistryService {
  constructor(private readonly hosts: RegistryHosts) {}

  /** POST /auth: the credentials against the registry's /v2/; never cached, so a login really checks. */
  async login(config: AuthConfig): Promise<AuthResponse> {
    let host: string;
    try {
      host = loginHost(config.serveraddress);
    } catch (error) {
      throw badParameter(`unable to parse server address: ${(error as Error).message}`);
    }
    const [endpoints] = await this.hosts.endpointGroups(host === INDEX_HOSTNAME ? INDEX_NAME : host, 'push');
    const client = new RegistryClient(host, { endpoints, credentials: config, offlineAccess: true, tokens: new TokenCache() });
    try {
      await client.ping();
      const status = await client.checkAccess();
      if (status !== 200) {
        throw serverError(`login attempt to ${client.baseUrl.href}v2/ failed with status: ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd());
      }
      return { IdentityToken: client.refreshToken ?? '', Status: 'Login Succeeded' };
    } catch (error) {
      throw apiErrorOf(error);
    } finally {
      client.close();
    }
  }

  /** GET /images/search: Docker's validation, then the index's answer (limited), then the filters. */
  async search(request: SearchRequest): Promise<ImageSearchResult[]> {
    const { filters, term } = request;
    for (const key of filters.keys()) if (!SEARCH_FILTERS.includes(key)) throw badParameter(`invalid filter '${key}'`);
    const automated = boolFilter(filters, 'is-automated');
    const official = boolFilter(filters, 'is-official');
    let minimumStars = 0;
    for (const value of filters.get('stars') ?? []) {
      if (!/^[+-]?\d+$/.test(value)) throw badParameter(`invalid filter 'stars=${value}': strconv.Atoi: parsing "${value}": invalid syntax`);
      minimumStars = Math.max(minimumStars, Number(value));
    }
    if (term.includes('://')) throw badParameter(`invalid repository name: repository name (${term}) should not have a scheme`);
    const limit = request.limit || DEFAULT_SEARCH_LIMIT;
    if (limit < 1 || limit > 100) throw badParameter(`limit ${limit} is outside the range of [1, 100]`);

    const { index, remote } = splitSearchTerm(term);
    const results = index === INDEX_NAME
      ? await this.searchDockerHub(remote.replace(/^library\//, ''), limit, request.auth)
      : await this.searchCatalog(index, remote, limit, request.auth);
    return results.filter((result) => (automated === undefined || result.is_automated === automated)
      && (official === undefined || result.is_official === official)
      && (!filters.has('stars') || result.star_count >= minimumStars));
  }

  private async searchDockerHub(query: string, limit: number, auth: AuthConfig): Promise<ImageSearchResult[]> {
    const url = `${INDEX_SERVER}search?q=${encodeURIComponent(query)}&n=${limit}`;
    const headers: Record<string, string> = { 'X-Docker-Token': 'true' };
    if (auth.username && auth.password) headers.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw serverError(`Get "${url}": ${cause}`);
    }
    if (response.status !== 200) throw serverError(`Unexpected status code ${response.status}`);
    const body = await response.json().catch(() => undefined) as { results?: ImageSearchResult[] } | undefined;
    if (!body || !Array.isArray(body.results)) throw serverError('error decoding registry search results');
    return body.results;
  }

  /** A registry without a search API: its catalog, names containing the term, as "<registry>/<name>". */
  private async searchCatalog(index: string, remote: string, limit: number, auth: AuthConfig): Promise<ImageSearchResult[]> {
    const [endpoints] = await this.hosts.endpointGroups(index, 'push');
    const client = new RegistryClient(index, { endpoints, credentials: auth, scopes: ['registry:catalog:*'], tokens: new TokenCache() });
    try {
      await client.ping();
      const wanted = remote.toLowerCase();
      const names = (await client.catalog()).filter((name) => name.toLowerCase().includes(wanted));
      return names.slice(0, limit).map((name) => ({
        name: `${index}/${name}`, description: '', star_count: 0, is_official: false, is_automated: false,
      }));
    } catch (error) {
      throw apiErrorOf(error);
    } finally {
      client.close();
    }
  }
}
