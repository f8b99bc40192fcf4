// Registry authentication as Docker's registry client does it: the WWW-Authenticate challenges
// a registry answers with, HTTP Basic, and the Bearer token flow of the distribution spec
// (GET <realm>?service=&scope= with Basic credentials, or a POST with a refresh token), with
// tokens cached per realm, service, scopes and credentials until they expire. Also the
// X-Registry-Auth header (base64url JSON of an AuthConfig) that clients send the daemon.
//
// One RegistryAuthenticator belongs to one RegistryClient: the client feeds it the challenges
// of its ping (and of any 401), and asks it for the Authorization header of each request.
import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { loadBuiltin } from '../util/builtins.js';
import type { AuthConfig } from '../wire/types.js';

/** The client_id Docker sends to token servers. */
export const AUTH_CLIENT_ID = 'docker';
/** Tokens that say they live shorter are kept this long, as Docker's client does. */
const MINIMUM_TOKEN_LIFETIME_SECONDS = 60;
const TOKEN_REQUEST_TIMEOUT_MS = 30_000;

/** Authentication failed; `message` is worded as Docker's registry client words it. */
export class RegistryAuthError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface Challenge {
  /** Lower-cased: "bearer", "basic". */
  scheme: string;
  parameters: Record<string, string>;
}

const TOKEN_CHAR = /[A-Za-z0-9!#$%&'*+.^_`|~-]/;

/** Parses WWW-Authenticate values (several challenges may share one header). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const challenges: Challenge[] = [];
  for (const value of values) {
    let index = 0;
    const skip = (pattern: RegExp) => {
      while (index < value.length && pattern.test(value[index]!)) index++;
    };
    const token = (): string => {
      const start = index;
      while (index < value.length && TOKEN_CHAR.test(value[index]!)) index++;
      return value.slice(start, index);
    };
    let current: Challenge | undefined;
    while (index < value.length) {
      skip(/[\s,]/);
      const start = index;
      const word = token();
      if (word === '') {
        index++;
        continue;
      }
      skip(/\s/);
      if (value[index] === '=' && current) {
        index++;
        skip(/\s/);
        let parameter = '';
        if (value[index] === '"') {
          index++;
          while (index < value.length && value[index] !== '"') {
            if (value[index] === '\\' && index + 1 < value.length) index++;
            parameter += value[index];
            index++;
          }
          index++;
        } else {
          // Unquoted values should be tokens; registries also send bare URLs, so read up to a comma.
          const valueStart = index;
          while (index < value.length && !/[\s,]/.test(value[index]!)) index++;
          parameter = value.slice(valueStart, index);
        }
        current.parameters[word.toLowerCase()] = parameter;
        continue;
      }
      if (value[index] === '=' && !current) {
        // A parameter before any scheme: not a challenge we can use.
        index = start + word.length + 1;
        continue;
      }
      current = { scheme: word.toLowerCase(), parameters: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

const AUTH_CONFIG_FIELDS = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;

/** An AuthConfig from decoded JSON: field names match case-insensitively (as Go's decoder does); `auth` fills in a missing user/password. */
export function normalizeAuthConfig(value: unknown): AuthConfig {
  const config: AuthConfig = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return config;
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    const name = AUTH_CONFIG_FIELDS.find((candidate) => candidate === key.toLowerCase());
    if (name && typeof field === 'string') config[name] = field;
  }
  if (config.auth && !config.username && !config.password) {
    const decoded = Buffer.from(config.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      config.username = decoded.slice(0, colon);
      config.password = decoded.slice(colon + 1).replace(/\0+$/, '');
    }
  }
  return config;
}

/** X-Registry-Auth -> AuthConfig. Docker ignores a header it cannot decode; so do we ({}). */
export function decodeRegistryAuth(header: string | string[] | undefined): AuthConfig {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return {};
  try {
    return normalizeAuthConfig(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')));
  } catch {
    return {};
  }
}

/** The token scope for a repository: "repository:me/app:pull,push". */
export function repositoryScope(repository: string, actions: string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

interface CachedToken { token: string; expiresAt: number }

/**
 * Bearer tokens by realm, service, scopes and credentials, kept until they expire. Concurrent
 * requests for the same token (parallel layer downloads) share one fetch.
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): string | undefined {
    const cached = this.tokens.get(key);
    if (!cached) return undefined;
    if (cached.expiresAt <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return cached.token;
  }

  set(key: string, token: string, expiresInSeconds: number): void {
    this.tokens.set(key, { token, expiresAt: this.now() + Math.max(expiresInSeconds, MINIMUM_TOKEN_LIFETIME_SECONDS) * 1000 });
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }

  async getOrFetch(key: string, fetch: () => Promise<{ token: string; expiresIn: number }>): Promise<string> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    let running = this.pending.get(key);
    if (!running) {
      running = fetch().then(({ token, expiresIn }) => {
        this.set(key, token, expiresIn);
        return token;
      }).finally(() => this.pending.delete(key));
      this.pending.set(key, running);
    }
    return running;
  }
}

/** The answer of a token server (token or access_token; expires_in in seconds). */
export interface TokenResponse { token: string; expiresIn: number; refreshToken: string | undefined }

export function parseTokenResponse(body: string): TokenResponse {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new RegistryAuthError(0, '', 'unable to decode token response: the authorization server did not answer JSON');
  }
  const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token
    : typeof parsed.access_token === 'string' ? parsed.access_token : '';
  if (token === '') throw new RegistryAuthError(0, '', 'authorization server did not include a token in the response');
  const expiresIn = typeof parsed.expires_in === 'number' ? parsed.expires_in : 0;
  const refreshToken = typeof parsed.refresh_token === 'string' && parsed.refresh_token !== '' ? parsed.refresh_token : undefined;
  return { token, expiresIn: Math.max(expiresIn, MINIMUM_TOKEN_LIFETIME_SECONDS), refreshToken };
}

/** A token server's refusal, worded as distribution's client words it ("unauthorized: incorrect username or password"). */
export function tokenErrorMessage(status: number, body: string): RegistryAuthError {
  let parsed: { details?: unknown; errors?: Array<{ code?: unknown; message?: unknown }> } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // Not JSON: the status alone speaks.
  }
  if (typeof parsed.details === 'string' && parsed.details !== '') {
    const code = status === 401 ? 'UNAUTHORIZED' : status === 429 ? 'TOOMANYREQUESTS' : 'UNKNOWN';
    return new RegistryAuthError(status, code, `${code.toLowerCase()}: ${parsed.details}`);
  }
  const first = Array.isArray(parsed.errors) ? parsed.errors[0] : undefined;
  if (first && typeof first.code === 'string') {
    const codeText = first.code.toLowerCase().replace(/_/g, ' ');
    const message = typeof first.message === 'string' && first.message !== '' ? first.message : codeText;
    return new RegistryAuthError(status, first.code, `${codeText}: ${message}`);
  }
  if (status === 401) return new RegistryAuthError(401, 'UNAUTHORIZED', 'unauthorized: authentication required');
  return new RegistryAuthError(status, '', `received unexpected HTTP status: ${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd());
}

export interface AuthenticatorOptions {
  credentials?: AuthConfig;
  /** Scopes every token asks for (repository:NAME:pull, ...). */
  scopes?: string[];
  tokens?: TokenCache;
  /** Ask the token server for a refresh token, as docker login does (offline_token=true&client_id=docker). */
  offlineAccess?: boolean;
  /** The registry's TLS is not verified (insecure registry): nor is its token server's. */
  insecureTls?: boolean;
  userAgent?: string;
}

/** Decides the Authorization header of each request to one registry from the challenges it sent. */
export class RegistryAuthenticator {
  private challenges: Challenge[] = [];
  private readonly extraScopes = new Set<string>();
  private readonly tokens: TokenCache;
  /** The refresh token a token server handed out (docker login answers it as IdentityToken). */
  refreshToken: string | undefined;

  constructor(private readonly options: AuthenticatorOptions = {}) {
    this.tokens = options.tokens ?? new TokenCache();
  }

  /**
   * Records the challenges of a 401 answer. True when they change what the next attempt sends
   * (first challenge seen, or a Bearer scope not asked for yet): then a retry is worth it.
   */
  observe(header: string | string[] | undefined): boolean {
    const challenges = parseChallenges(header);
    if (challenges.length === 0) return false;
    const first = this.challenges.length === 0;
    this.challenges = challenges;
    let added = false;
    for (const challenge of challenges) {
      if (challenge.scheme !== 'bearer' || !challenge.parameters.scope) continue;
      for (const scope of challenge.parameters.scope.split(' ')) {
        if (scope && !this.extraScopes.has(scope) && !(this.options.scopes ?? []).includes(scope)) {
          this.extraScopes.add(scope);
          added = true;
        }
      }
    }
    return first || added;
  }

  /** The Authorization header for a request to the registry; undefined when it asked for none. */
  async authorize(url: URL): Promise<string | undefined> {
    const credentials = this.options.credentials ?? {};
    const bearer = this.challenges.find((challenge) => challenge.scheme === 'bearer');
    if (bearer) {
      if (credentials.registrytoken) return `Bearer ${credentials.registrytoken}`;
      return `Bearer ${await this.token(bearer, this.scopesFor(url))}`;
    }
    if (this.challenges.some((challenge) => challenge.scheme === 'basic')) {
      if (!credentials.username || !credentials.password) throw new RegistryAuthError(401, '', 'no basic auth credentials');
      return basicAuthorization(credentials.username, credentials.password);
    }
    return undefined;
  }

  /** Forgets the cached token behind a rejected Authorization; true when there was one to forget. */
  invalidate(url: URL, authorization: string | undefined): boolean {
    const bearer = this.challenges.find((challenge) => challenge.scheme === 'bearer');
    if (!bearer || !authorization?.startsWith('Bearer ') || this.options.credentials?.registrytoken) return false;
    const key = this.cacheKey(bearer, this.scopesFor(url));
    if (this.tokens.get(key) !== authorization.slice('Bearer '.length)) return false;
    this.tokens.delete(key);
    return true;
  }

  /** Our scopes, the ones 401s asked for, and pull on the source of a cross-repository mount (?from=). */
  private scopesFor(url: URL): string[] {
    const scopes = new Set([...(this.options.scopes ?? []), ...this.extraScopes]);
    const from = url.searchParams.get('from');
    if (from) scopes.add(repositoryScope(from, ['pull']));
    return [...scopes].sort();
  }

  private cacheKey(challenge: Challenge, scopes: string[]): string {
    const credentials = this.options.credentials ?? {};
    const identity = createHash('sha256')
      .update([credentials.username ?? '', credentials.password ?? '', credentials.identitytoken ?? ''].join('\0')).digest('hex');
    return JSON.stringify([challenge.parameters.realm ?? '', challenge.parameters.service ?? '', scopes, identity, !!this.options.offlineAccess]);
  }

  private token(challenge: Challenge, scopes: string[]): Promise<string> {
    const realm = challenge.parameters.realm;
    if (!realm) return Promise.reject(new RegistryAuthError(0, '', 'no realm specified for token auth challenge'));
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      return Promise.reject(new RegistryAuthError(0, '', `invalid token auth challenge realm: ${realm}`));
    }
    return this.tokens.getOrFetch(this.cacheKey(challenge, scopes), async () => {
      const answer = await this.fetchToken(realmUrl, challenge.parameters.service, scopes);
      if (answer.refreshToken) this.refreshToken = answer.refreshToken;
      return answer;
    });
  }

  private async fetchToken(realm: URL, service: string | undefined, scopes: string[]): Promise<TokenResponse> {
    const credentials = this.options.credentials ?? {};
    const headers: Record<string, string> = { 'User-Agent': this.options.userAgent ?? 'berth' };
    let method = 'GET';
    let body: Buffer | undefined;
    const url = new URL(realm.href);
    if (credentials.identitytoken) {
      // OAuth2 refresh-token grant, as Docker uses an identity token.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identitytoken, client_id: AUTH_CLIENT_ID });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      if (this.options.offlineAccess) form.set('access_type', 'offline');
      method = 'POST';
      body = Buffer.from(form.toString());
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers['Content-Length'] = String(body.length);
    } else {
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (this.options.offlineAccess) {
        url.searchParams.set('offline_token', 'true');
        url.searchParams.set('client_id', AUTH_CLIENT_ID);
      }
      if (credentials.username && credentials.password) {
        url.searchParams.set('account', credentials.username);
        headers.Authorization = basicAuthorization(credentials.username, credentials.password);
      }
    }
    const { status, text } = await this.request(method, url, headers, body);
    if (status !== 200) throw tokenErrorMessage(status, text);
    return parseTokenResponse(text);
  }

  private request(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const options = { method, headers, timeout: TOKEN_REQUEST_TIMEOUT_MS, ...(secure ? { rejectUnauthorized: !this.options.insecureTls } : {}) };
      const onResponse = (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      };
      const request = secure ? loadBuiltin<typeof Https>('node:https').request(url, options, onResponse) : http.request(url, options, onResponse);
      const shown = `${url.origin}${url.pathname}`;
      request.on('timeout', () => request.destroy(new Error('request timed out')));
      request.on('error', (error) => reject(new RegistryAuthError(0, '', `${method === 'GET' ? 'Get' : 'Post'} "${shown}": ${error.message}`)));
      request.end(body);
    });
  }
}

function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
