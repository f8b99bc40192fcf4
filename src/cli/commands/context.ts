// berth context create|ls|use|inspect|rm|show|update, with docker's flags, outputs and
// messages; the store and the choice of context are in ../contexts.ts.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { compileTemplate } from '../template.js';
import { boolFlag, stringFlag, type CommandSpec, type Invocation } from '../command.js';
import { ClientConfig, configDir } from '../credentials.js';
import {
  chooseContext, ContextStore, defaultHost, DEFAULT_CONTEXT, validateContextName, type ContextMeta, type StoredContext,
} from '../contexts.js';
import { chooseFormat, renderFormatted, sortedJson, StatusError } from '../output.js';
import { indentJson } from './inspect.js';
import { FORMAT_HELP } from './ps.js';

const DEFAULT_DESCRIPTION = 'Current DOCKER_HOST based configuration';
const DOCKER_HOST_WARNING = 'Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.';
const CONTEXT_HEADERS = { Name: 'NAME', NameWithCurrent: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR', Current: 'CURRENT' };
const DOCKER_FLAG_HELP = 'set the docker endpoint';
const ENDPOINT_KEYS = ['from', 'host', 'ca', 'cert', 'key', 'skip-tls-verify'];

interface ContextView { meta: ContextMeta; tls: StoredContext['tls']; metaPath: string; tlsPath: string }

function store(): ContextStore {
  return new ContextStore(configDir());
}

/** The "default" context: -H / DOCKER_HOST, never stored. */
function defaultContext(invocation: Invocation): ContextView {
  const options = invocation.ctx.connectionOptions;
  const tls = options.tls || options.tlsVerify !== undefined || (process.env.DOCKER_TLS_VERIFY ?? '') !== '';
  return {
    meta: { Name: DEFAULT_CONTEXT, Metadata: {}, Endpoints: { docker: { Host: defaultHost(options, process.env, tls), SkipTLSVerify: tls && options.tlsVerify === false } } },
    tls: {}, metaPath: '<IN MEMORY>', tlsPath: '<IN MEMORY>',
  };
}

async function currentName(invocation: Invocation): Promise<string> {
  return chooseContext(invocation.ctx.connectionOptions, process.env, (await ClientConfig.load()).currentContext);
}

async function find(invocation: Invocation, name: string): Promise<ContextView> {
  if (name === DEFAULT_CONTEXT) return defaultContext(invocation);
  return store().get(name);
}

/** `--docker host=...,ca=...,cert=...,key=...,skip-tls-verify=...` (CSV, as pflag's stringToString). */
export function parseEndpointFlag(value: string): Record<string, string> {
  const fields: Record<string, string> = {};
  if (value.trim() === '') return fields;
  for (const pair of value.split(',')) {
    const equals = pair.indexOf('=');
    if (equals === -1) throw new StatusError(125, `invalid argument "${value}" for "--docker" flag: ${pair} must be formatted as key=value`);
    const key = pair.slice(0, equals).trim();
    if (!ENDPOINT_KEYS.includes(key)) throw new StatusError(1, `unable to create docker endpoint config: unrecognized config key: ${key}`);
    fields[key] = pair.slice(equals + 1);
  }
  return fields;
}

/** The endpoint and TLS material a --docker value describes; `from` copies another context's. */
async function endpointFrom(invocation: Invocation, fields: Record<string, string>): Promise<{ endpoint: NonNullable<ContextMeta['Endpoints']['docker']>; tls: StoredContext['tls'] }> {
  if (fields.from !== undefined) {
    const source = await find(invocation, fields.from);
    return { endpoint: source.meta.Endpoints.docker ?? { Host: '', SkipTLSVerify: false }, tls: source.tls };
  }
  const tls: StoredContext['tls'] = {};
  for (const [key, file] of [['ca', 'ca.pem'], ['cert', 'cert.pem'], ['key', 'key.pem']] as const) {
    const path = fields[key];
    if (!path) continue;
    if (!existsSync(path)) throw new StatusError(1, `unable to create docker endpoint config: open ${path}: no such file or directory`);
    const data = await readFile(path);
    if (!data.toString().includes('-----BEGIN ')) throw new StatusError(1, `unable to create docker endpoint config: invalid docker endpoint options: failed to retrieve context tls info: ${file} seems invalid`);
    tls[file] = data;
  }
  const skip = fields['skip-tls-verify'];
  if (skip !== undefined && !['true', 'false', '1', '0', ''].includes(skip)) throw new StatusError(1, `unable to create docker endpoint config: invalid value for skip-tls-verify: ${skip}`);
  return { endpoint: { Host: fields.host ?? '', SkipTLSVerify: skip === 'true' || skip === '1' }, tls };
}

const createCommand: CommandSpec = {
  name: 'create',
  usage: '[OPTIONS] CONTEXT',
  description: 'Create a context',
  flags: [
    { name: 'description', type: 'string', description: 'Description of the context' },
    { name: 'docker', type: 'string', valueName: 'stringToString', description: DOCKER_FLAG_HELP },
    { name: 'from', type: 'string', description: 'create context from a named context' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const name = invocation.args[0]!;
    validateContextName(name);
    const contexts = store();
    if (await contexts.exists(name)) throw new StatusError(1, `context "${name}" already exists`);
    const docker = stringFlag(invocation.flags, 'docker');
    const from = stringFlag(invocation.flags, 'from');
    // Without --docker, docker copies the current context (or --from's) endpoint.
    const fields = docker !== undefined ? parseEndpointFlag(docker) : { from: from ?? await currentName(invocation) };
    const { endpoint, tls } = await endpointFrom(invocation, fields);
    const description = stringFlag(invocation.flags, 'description');
    await contexts.save({ Name: name, Metadata: description ? { Description: description } : {}, Endpoints: { docker: endpoint } }, tls);
    process.stdout.write(`${name}\n`);
    process.stderr.write(`Successfully created context "${name}"\n`);
  },
};

const updateCommand: CommandSpec = {
  name: 'update',
  usage: '[OPTIONS] CONTEXT',
  description: 'Update a context',
  flags: [
    { name: 'description', type: 'string', description: 'Description of the context' },
    { name: 'docker', type: 'string', valueName: 'stringToString', description: DOCKER_FLAG_HELP },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const name = invocation.args[0]!;
    if (name === DEFAULT_CONTEXT) throw new StatusError(1, 'context "default" cannot be updated');
    const contexts = store();
    const context = await contexts.get(name);
    const meta = context.meta;
    const description = stringFlag(invocation.flags, 'description');
    if (description !== undefined) meta.Metadata = { ...meta.Metadata, Description: description };
    const docker = stringFlag(invocation.flags, 'docker');
    let tls: StoredContext['tls'] | undefined;
    if (docker !== undefined) {
      // As docker's: the endpoint is replaced whole, its TLS material with it.
      const next = await endpointFrom(invocation, parseEndpointFlag(docker));
      meta.Endpoints = { ...meta.Endpoints, docker: next.endpoint };
      tls = next.tls;
    }
    await contexts.save(meta, tls);
    process.stdout.write(`${name}\n`);
    process.stderr.write(`Successfully updated context "${name}"\n`);
  },
};

const listCommand: CommandSpec = {
  name: 'ls',
  usage: '[OPTIONS]',
  description: 'List contexts',
  aliases: ['context ls', 'context list'],
  flags: [
    { name: 'format', type: 'string', description: FORMAT_HELP },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show context names' },
  ],
  args: { max: 0 },
  async run(invocation) {
    const current = await currentName(invocation);
    const contexts: ContextView[] = [defaultContext(invocation), ...await store().list()]
      .sort((a, b) => (a.meta.Name < b.meta.Name ? -1 : 1));
    const format = chooseFormat({
      format: stringFlag(invocation.flags, 'format') ?? '', quiet: boolFlag(invocation.flags, 'quiet'), quietFormat: '{{.Name}}',
      defaultTable: 'table {{.NameWithCurrent}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}',
    });
    const rows = contexts.map((context) => {
      const row = {
        Name: context.meta.Name, Current: context.meta.Name === current,
        Description: context.meta.Name === DEFAULT_CONTEXT ? DEFAULT_DESCRIPTION : context.meta.Metadata.Description ?? '',
        DockerEndpoint: context.meta.Endpoints.docker?.Host ?? '', Error: '',
      };
      // docker's table marks the current context after its name; --format's .Name is the bare name.
      return { ...row, NameWithCurrent: row.Current ? `${row.Name} *` : row.Name };
    });
    process.stdout.write(format === 'json'
      ? rows.map(({ NameWithCurrent: _shown, ...row }) => `${sortedJson(row)}\n`).join('')
      : renderFormatted(format, rows, CONTEXT_HEADERS));
    if ((process.env.DOCKER_HOST || process.env.BERTH_HOST) && !invocation.ctx.connectionOptions.context) process.stderr.write(`${DOCKER_HOST_WARNING}\n`);
  },
};

const useCommand: CommandSpec = {
  name: 'use',
  usage: 'CONTEXT',
  description: 'Set the current docker context',
  flags: [],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const name = invocation.args[0]!;
    if (name !== DEFAULT_CONTEXT) await store().get(name);
    await (await ClientConfig.load()).setCurrentContext(name);
    process.stdout.write(`${name}\n`);
    process.stderr.write(`Current context is now "${name}"\n`);
    if (name !== DEFAULT_CONTEXT && (process.env.DOCKER_HOST || process.env.BERTH_HOST)) process.stderr.write(`${DOCKER_HOST_WARNING}\n`);
  },
};

const showCommand: CommandSpec = {
  name: 'show',
  usage: '',
  description: 'Print the name of the current context',
  flags: [],
  args: { max: 0 },
  async run(invocation) {
    process.stdout.write(`${await currentName(invocation)}\n`);
  },
};

const removeCommand: CommandSpec = {
  name: 'rm',
  usage: 'CONTEXT [CONTEXT...]',
  description: 'Remove one or more contexts',
  aliases: ['context rm', 'context remove'],
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the removal of a context in use' }],
  args: { min: 1 },
  async run(invocation) {
    const config = await ClientConfig.load();
    const contexts = store();
    const errors: string[] = [];
    for (const name of invocation.args) {
      if (name === DEFAULT_CONTEXT) { errors.push(`context "default" cannot be removed`); continue; }
      if (!(await contexts.exists(name))) { errors.push(`context "${name}" does not exist`); continue; }
      if (config.currentContext === name) {
        if (!boolFlag(invocation.flags, 'force')) { errors.push(`context "${name}" is in use, set -f flag to force remove`); continue; }
        await config.setCurrentContext(undefined);
      }
      await contexts.remove(name);
      process.stdout.write(`${name}\n`);
    }
    if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  },
};

const inspectCommand: CommandSpec = {
  name: 'inspect',
  usage: '[OPTIONS] [CONTEXT] [CONTEXT...]',
  description: 'Display detailed information on one or more contexts',
  flags: [{ name: 'format', short: 'f', type: 'string', description: FORMAT_HELP }],
  async run(invocation) {
    const names = invocation.args.length > 0 ? invocation.args : [await currentName(invocation)];
    const views: unknown[] = [];
    for (const name of names) {
      const context = await find(invocation, name);
      views.push({
        Name: context.meta.Name, Metadata: context.meta.Metadata, Endpoints: context.meta.Endpoints,
        TLSMaterial: Object.keys(context.tls).length > 0 ? { docker: Object.keys(context.tls).sort() } : {},
        Storage: { MetadataPath: context.metaPath, TLSPath: context.tlsPath },
      });
    }
    const format = stringFlag(invocation.flags, 'format') ?? '';
    if (format === '') {
      process.stdout.write(indentJson(views));
      return;
    }
    let render: (data: unknown) => string;
    try {
      render = compileTemplate(format === 'json' ? '{{json .}}' : format);
    } catch (err) {
      throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
    }
    process.stdout.write(views.map((view) => `${render(view)}\n`).join(''));
  },
};

export const CONTEXT_COMMANDS: Record<string, CommandSpec> = {
  create: createCommand, inspect: inspectCommand, ls: listCommand, rm: removeCommand, show: showCommand, update: updateCommand, use: useCommand,
};
