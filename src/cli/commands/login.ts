// berth login / logout / search, as the docker CLI (28) does them: login checks the
// credentials through the daemon (POST /auth) and keeps them in the client config
// (credentials.ts); logout removes them; search asks the daemon (GET /images/search) and
// prints docker's table.

import { boolFlag, intFlag, listFlag, stringFlag } from '../command.js';
import type { CommandSpec } from '../command.js';
import { ClientError } from '../../client/engine-client.js';
import type { EngineClient } from '../../client/engine-client.js';
import type { AuthConfig, ImageSearchResult } from '../../wire/types.js';
import { ClientConfig, convertToHostname, encodeAuthHeader, INDEX_SERVER } from '../credentials.js';
import { chooseFormat, ellipsis, renderFormatted, sortedJson, StatusError } from '../output.js';
import { filtersQuery } from './ps.js';

const REGISTER_SUGGEST = "Log in with your Docker ID or email address to push and pull images from Docker Hub. " +
  "If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";

const UNENCRYPTED_WARNING = (path: string) => `\nWARNING! Your credentials are stored unencrypted in '${path}'.
Configure a credential helper to remove this warning. See
https://docs.docker.com/go/credential-store/\n\n`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal after a prompt on stdout; `hidden` turns echo off (a password). */
function promptLine(message: string, hidden: boolean): Promise<string> {
  process.stdout.write(message);
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      if (hidden) stdin.setRawMode(false);
      stdin.pause();
      if (error) reject(error);
      else resolve(line.trim());
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') {
          process.stdout.write('\n');
          return finish(new StatusError(130, ''));
        }
        if (hidden && (char === '\u007f' || char === '\b')) line = [...line].slice(0, -1).join('');
        else line += char;
      }
    };
    if (hidden) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** PromptUserForCredentials: what the flags did not give is asked for on the terminal. */
async function promptForCredentials(user: string, password: string, defaultUsername: string, serverAddress: string): Promise<AuthConfig> {
  let username = user.trim();
  if (username === '') {
    if (serverAddress === INDEX_SERVER) process.stdout.write(`${REGISTER_SUGGEST}\n`);
    const fallback = defaultUsername.trim();
    username = await promptLine(fallback === '' ? 'Username: ' : `Username (${fallback}): `, false);
    if (username === '') username = fallback;
    if (username === '') throw new StatusError(1, 'Error: Non-null Username Required');
  }
  let secret = password.trim();
  if (secret === '') {
    secret = await promptLine('Password: ', true);
    process.stdout.write('\n');
    if (secret === '') throw new StatusError(1, 'Error: Password Required');
  }
  return { username, password: secret, serveraddress: serverAddress };
}

/** Keeps what the daemon accepted; an identity token replaces the password, as docker does. */
async function storeCredentials(config: ClientConfig, auth: AuthConfig): Promise<void> {
  try {
    const plainTextPath = await config.store(auth);
    if (plainTextPath) process.stderr.write(UNENCRYPTED_WARNING(plainTextPath));
  } catch (error) {
    throw new StatusError(1, `Error saving credentials: ${(error as Error).message}`);
  }
}

function withIdentityToken(auth: AuthConfig, identityToken: string | undefined): AuthConfig {
  return identityToken ? { ...auth, password: '', identitytoken: identityToken } : auth;
}

async function loginWithStoredCredentials(client: EngineClient, config: ClientConfig, auth: AuthConfig): Promise<{ status: string; failed: boolean }> {
  process.stderr.write(`Authenticating with existing credentials...${auth.username ? ` [Username: ${auth.username}]` : ''}\n`);
  process.stderr.write("\n Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n\n");
  let status = '';
  let identityToken: string | undefined;
  let failed = false;
  try {
    const response = await client.registryLogin(auth);
    status = response.Status;
    identityToken = response.IdentityToken;
  } catch (error) {
    failed = true;
    if (error instanceof ClientError && error.status === 401) process.stderr.write('Stored credentials invalid or expired\n');
    else process.stderr.write(`Login did not succeed, error: ${(error as Error).message}\n`);
  }
  await storeCredentials(config, withIdentityToken(auth, identityToken));
  return { status, failed };
}

export const loginCommand: CommandSpec = {
  name: 'login',
  usage: '[OPTIONS] [SERVER]',
  description: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
  flags: [
    { name: 'password', short: 'p', type: 'string', description: 'Password or Personal Access Token (PAT)' },
    { name: 'password-stdin', type: 'bool', description: 'Take the Password or Personal Access Token (PAT) from stdin' },
    { name: 'username', short: 'u', type: 'string', description: 'Username' },
  ],
  args: { max: 1 },
  async run(invocation) {
    const { flags, changed } = invocation;
    let user = stringFlag(flags, 'username') ?? '';
    let password = stringFlag(flags, 'password') ?? '';
    const passwordStdin = boolFlag(flags, 'password-stdin');
    if (changed.has('password-stdin')) {
      if (changed.has('password')) throw new StatusError(1, 'conflicting options: cannot specify both --password and --password-stdin');
      if (!changed.has('username')) throw new StatusError(1, 'the --password-stdin option requires --username to be set');
    }
    if (changed.has('username') && user === '') throw new StatusError(1, 'username is empty');
    if (changed.has('password') && password === '') throw new StatusError(1, 'password is empty');
    if (password !== '') process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (passwordStdin) {
      if (user === '') throw new StatusError(1, 'username is empty');
      password = (await readStdin()).replace(/\n$/, '').replace(/\r$/, '');
    }
    user = user.trim();

    const argument = invocation.args[0] ?? '';
    const serverAddress = argument !== '' && argument !== 'docker.io' ? argument : INDEX_SERVER;
    const key = serverAddress === INDEX_SERVER ? serverAddress : convertToHostname(serverAddress);
    const config = await ClientConfig.load();
    const client = invocation.ctx.client();

    let stored: AuthConfig = { serveraddress: key };
    if (user === '' && password === '') {
      try {
        stored = { ...(await config.get(key)), serveraddress: key, identitytoken: undefined };
      } catch {
        stored = { serveraddress: key };
      }
    }
    let status = '';
    let failed = true;
    if (stored.username && stored.password) ({ status, failed } = await loginWithStoredCredentials(client, config, stored));
    if (failed) {
      if ((user === '' || password === '') && !process.stdin.isTTY) {
        throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
      }
      const auth = await promptForCredentials(user, password, stored.username ?? '', key);
      const response = await client.registryLogin(auth);
      await storeCredentials(config, withIdentityToken(auth, response.IdentityToken));
      status = response.Status;
    }
    if (status !== '') process.stdout.write(`${status}\n`);
    return 0;
  },
};

export const logoutCommand: CommandSpec = {
  name: 'logout',
  usage: '[SERVER]',
  description: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  flags: [],
  args: { max: 1 },
  async run(invocation) {
    const argument = invocation.args[0] ?? '';
    const isDefault = argument === '';
    const serverAddress = isDefault ? INDEX_SERVER : argument;
    const shown = isDefault ? serverAddress : convertToHostname(serverAddress);
    // Older clients stored the server with a scheme: those keys go too.
    const keys = isDefault ? [serverAddress] : [serverAddress, shown, `http://${shown}`, `https://${shown}`];
    const config = await ClientConfig.load();
    process.stdout.write(`Removing login credentials for ${shown}\n`);
    const errors: string[] = [];
    for (const key of keys) {
      try {
        await config.erase(key);
      } catch (error) {
        errors.push(`${key}: ${(error as Error).message}`);
      }
    }
    if (errors.length === keys.length) process.stderr.write(`WARNING: could not erase credentials:\n${errors.map((line) => `${line}\n`).join('')}`);
    return 0;
  },
};

const DEFAULT_SEARCH_FORMAT = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';
const SEARCH_HEADERS = { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL' };

function searchRow(result: ImageSearchResult, trunc: boolean, json: boolean): Record<string, string> {
  let description = (result.description ?? '').replace(/[\n\r]/g, ' ');
  if (trunc) description = ellipsis(description, 45);
  const official = json ? String(!!result.is_official) : result.is_official ? '[OK]' : '';
  return { Name: result.name, Description: description, StarCount: String(result.star_count ?? 0), IsOfficial: official };
}

/** The registry a search term names, as the key of its stored credentials (Docker Hub's by default). */
function searchAuthKey(term: string): string {
  const slash = term.indexOf('/');
  const first = slash === -1 ? '' : term.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  return !hasRegistry || first === 'docker.io' || first === 'index.docker.io' ? INDEX_SERVER : first;
}

export const searchCommand: CommandSpec = {
  name: 'search',
  usage: '[OPTIONS] TERM',
  description: 'Search Docker Hub for images',
  flags: [
    { name: 'filter', short: 'f', type: 'list', valueName: 'filter', description: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', description: 'Pretty-print search using a Go template' },
    { name: 'limit', type: 'int', description: 'Max number of search results' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const { flags } = invocation;
    const term = invocation.args[0]!;
    const filters = listFlag(flags, 'filter');
    if (filters.some((filter) => filter.split('=')[0]!.trim().toLowerCase() === 'is-automated')) {
      process.stderr.write('WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.\n');
    }
    let auth: AuthConfig = {};
    try {
      const key = searchAuthKey(term);
      const found = await (await ClientConfig.load()).get(key);
      if (Object.keys(found).length > 0) auth = { ...found, serveraddress: found.serveraddress ?? key };
    } catch {
      // No readable credentials: search anonymously.
    }
    const results = await invocation.ctx.client().imageSearch(term, {
      limit: intFlag(flags, 'limit'), filters: filtersQuery(filters), registryAuth: encodeAuthHeader(auth),
    });
    const trunc = !boolFlag(flags, 'no-trunc');
    const format = chooseFormat({ format: stringFlag(flags, 'format') ?? '', defaultTable: DEFAULT_SEARCH_FORMAT });
    if (format === 'json') {
      process.stdout.write(results.map((result) => sortedJson(searchRow(result, trunc, true)) + '\n').join(''));
      return 0;
    }
    process.stdout.write(renderFormatted(format, results.map((result) => searchRow(result, trunc, false)), SEARCH_HEADERS));
    return 0;
  },
};
