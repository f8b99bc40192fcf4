// POST /build: the query decoded as Docker's API reads it, the request body (the context tar)
// handed to the builder, its messages streamed back as JSON lines. As in moby's postBuild, an
// error before the first message is a plain HTTP error (the CLI prints "Error response from
// daemon: ..."); after it, the stream's last message ({"errorDetail":...,"error":...}).
import type { ServerResponse } from 'node:http';
import type { BuildMessage, BuildRequest } from '../../build/builder.js';
import { badParameter } from '../../errdefs/errors.js';
import { boolParam, startStream, type RequestContext } from '../server.js';

export interface BuildBackend {
  build(body: RequestContext['request'], request: BuildRequest, emit: (message: BuildMessage) => void, signal: AbortSignal): Promise<string>;
}

export async function buildImage(builder: BuildBackend, context: RequestContext): Promise<void> {
  const request = buildRequest(context.query);
  let response: ServerResponse | undefined;
  const emit = (message: BuildMessage) => {
    response ??= startStream(context, 'application/json');
    response.write(`${JSON.stringify(message)}\r\n`);
  };
  try {
    await builder.build(context.request, request, emit, context.signal);
  } catch (error) {
    if (!response) {
      drain(context);
      throw error;
    }
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown }).code;
    emit({ errorDetail: typeof code === 'number' ? { code, message } : { message }, error: message });
  }
  drain(context);
  (response ?? startStream(context, 'application/json')).end();
}

/** Reads what the client still sends, so that it sees the answer rather than a broken pipe. */
function drain(context: RequestContext): void {
  const { request } = context;
  if (request.readableEnded || request.destroyed) return;
  request.removeAllListeners('readable');
  request.on('data', () => undefined);
  request.resume();
}

function jsonParam<T>(query: URLSearchParams, name: string, fallback: T): T {
  const text = query.get(name);
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw badParameter(`invalid ${name} parameter: ${text}`);
  }
}

function numberParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (!text) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw badParameter(`invalid ${name} parameter: ${text}`);
  return value;
}

export function buildRequest(query: URLSearchParams): BuildRequest {
  const buildArgs = jsonParam<Record<string, string | null>>(query, 'buildargs', {});
  const resources: BuildRequest['resources'] = {};
  const memory = numberParam(query, 'memory');
  if (memory) resources.Memory = memory;
  const memorySwap = numberParam(query, 'memswap');
  if (memorySwap) resources.MemorySwap = memorySwap;
  const cpuShares = numberParam(query, 'cpushares');
  if (cpuShares) resources.CpuShares = cpuShares;
  const cpuPeriod = numberParam(query, 'cpuperiod');
  if (cpuPeriod) resources.CpuPeriod = cpuPeriod;
  const cpuQuota = numberParam(query, 'cpuquota');
  if (cpuQuota) resources.CpuQuota = cpuQuota;
  const cpusetCpus = query.get('cpusetcpus');
  if (cpusetCpus) resources.CpusetCpus = cpusetCpus;
  const networkMode = query.get('networkmode') || 'default';
  const shmSize = numberParam(query, 'shmsize');
  if (shmSize) resources.ShmSize = shmSize;
  // "host:ip" pairs, comma-separated (docker-py) or repeated.
  const extraHosts = query.getAll('extrahosts').flatMap((value) => value.split(',')).filter((value) => value !== '');
  if (extraHosts.length > 0) resources.ExtraHosts = extraHosts;
  return {
    tags: query.getAll('t').filter((tag) => tag !== ''),
    dockerfile: query.get('dockerfile') ?? '',
    quiet: boolParam(query, 'q'),
    noCache: boolParam(query, 'nocache'),
    pull: boolParam(query, 'pull'),
    rm: boolParam(query, 'rm', true),
    forceRm: boolParam(query, 'forcerm'),
    buildArgs: new Map(Object.entries(buildArgs ?? {})),
    labels: jsonParam<Record<string, string>>(query, 'labels', {}) ?? {},
    target: query.get('target') || undefined,
    networkMode,
    cacheFrom: jsonParam<string[]>(query, 'cachefrom', []) ?? [],
    resources,
    remote: query.get('remote') || undefined,
  };
}
