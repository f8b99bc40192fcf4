// The builder behind POST /build: the context unpacked, the Dockerfile parsed and cut into
// stages, the stages the target needs built (independent ones at the same time: the classic
// builder builds them one after the other), and the progress written as the classic builder
// writes it ({"stream":"Step 1/5 : FROM busybox\n"}, " ---> 1a2b3c4d5e6f", "Successfully
// built ...", {"aux":{"ID":...}}). Stages that run at once have their output held back until
// the stages before them are done, so the stream reads as a sequential build.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { badParameter, isEngineError, notFound } from '../errdefs/errors.js';
import { processWord } from '../images/changes.js';
import type { ImageRecord } from '../images/service.js';
import { hostArchitecture } from '../util/host-arch.js';
import { traced } from '../util/trace.js';
import { BuildContext } from './context.js';
import { parseDockerfile, parseError, type DockerfileInstruction } from './dockerfile/parser.js';
import { shortId, Stage, type BuildSettings, type StepServices } from './steps.js';

export interface BuildRequest {
  tags: string[];
  dockerfile: string;
  quiet: boolean;
  noCache: boolean;
  pull: boolean;
  rm: boolean;
  forceRm: boolean;
  buildArgs: Map<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  networkMode: string;
  cacheFrom: string[];
  resources: BuildSettings['resources'];
  /** A remote context (URL): its body replaces the request's. */
  remote?: string;
}

export interface BuildMessage {
  stream?: string;
  status?: string;
  aux?: { ID: string };
  errorDetail?: { message: string; code?: number };
  error?: string;
}

export interface BuilderServices extends StepServices {
  /** Pulls an image that is not here (FROM, COPY --from) or, with --pull, again. */
  pull(name: string, write: (message: BuildMessage) => void): Promise<ImageRecord>;
  tag(imageId: string, name: string): Promise<string>;
  /** Throws "invalid reference format" for a bad -t before anything runs. */
  checkTag(name: string): void;
}

interface StageDefinition {
  index: number;
  name?: string;
  base: string;
  from: DockerfileInstruction;
  instructions: DockerfileInstruction[];
}

export class Builder {
  constructor(private readonly services: BuilderServices, private readonly tmpDir: string) {}

  async build(body: Readable, request: BuildRequest, emit: (message: BuildMessage) => void, signal: AbortSignal): Promise<string> {
    for (const tag of request.tags) this.services.checkTag(tag);
    const workDir = join(this.tmpDir, `build-${randomBytes(8).toString('hex')}`);
    await mkdir(workDir, { recursive: true });
    try {
      const context = await traced('build.context', () => this.openContext(body, request, join(workDir, 'context')));
      const dockerfile = parseDockerfile(await traced('build.dockerfile', () => context.readDockerfile(request.dockerfile)));
      const write = (text: string) => { if (!request.quiet) emit({ stream: text }); };
      for (const warning of dockerfile.warnings) write(`${warning}\n`);
      const { metaArgs, stages } = splitStages(dockerfile.instructions, request.buildArgs);
      const target = pickTarget(stages, request.target);
      if (Object.keys(request.labels).length > 0) {
        const pairs = Object.entries(request.labels).map(([key, value]) => `${JSON.stringify(key)}=${JSON.stringify(value)}`).join(' ');
        target.instructions.push({ ...parseDockerfile(`LABEL ${pairs}`).instructions[0]!, startLine: target.from.startLine });
      }
      const needed = neededStages(stages, target, metaArgs);
      const settings: BuildSettings = {
        buildArgs: request.buildArgs, noCache: request.noCache, rm: request.rm, forceRm: request.forceRm, networkMode: request.networkMode,
        resources: request.resources, consumed: new Set(), workDir, signal,
        cacheFrom: request.cacheFrom.length > 0 ? new Set(request.cacheFrom.map((name) => this.services.images.resolve(name)?.id).filter((id): id is string => !!id)) : undefined,
      };
      const image = await traced('build.stages', () => this.runStages(stages, needed, metaArgs, request, settings, context, write, emit));
      const unused = [...request.buildArgs.keys()].filter((name) => !settings.consumed.has(name) && !metaArgs.has(name) && !PREDEFINED_ARGS.has(name));
      if (unused.length > 0) write(`[Warning] One or more build-args [${unused.sort().join(' ')}] were not consumed\n`);
      emit({ aux: { ID: image.id } });
      write(`Successfully built ${shortId(image.id)}\n`);
      for (const tag of request.tags) write(`Successfully tagged ${await traced('build.tag', () => this.services.tag(image.id, tag))}\n`);
      if (request.quiet) emit({ stream: `${image.id}\n` });
      return image.id;
    } finally {
      await traced('build.cleanup', () => rm(workDir, { recursive: true, force: true })).catch(() => undefined);
    }
  }

  private async openContext(body: Readable, request: BuildRequest, root: string): Promise<BuildContext> {
    await mkdir(root, { recursive: true });
    if (!request.remote) return BuildContext.unpack(body, root, request.dockerfile || 'Dockerfile');
    body.resume();
    if (!/^https?:\/\//.test(request.remote)) throw badParameter(`unable to prepare context: unsupported remote context: ${request.remote}`);
    let response: Response;
    try {
      response = await fetch(request.remote, { signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw badParameter(`unable to prepare context: unable to download remote context ${request.remote}: ${cause}`);
    }
    if (!response.ok) throw badParameter(`unable to prepare context: unable to download remote context ${request.remote}: ${response.status} ${response.statusText}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const looksLikeTar = bytes.length > 262 && (bytes.subarray(257, 262).toString('latin1') === 'ustar' || bytes[0] === 0x1f || bytes[0] === 0x42 || bytes[0] === 0xfd);
    if (looksLikeTar) return BuildContext.unpack(Readable.from([bytes]), root, request.dockerfile || 'Dockerfile');
    await writeFile(join(root, request.dockerfile || 'Dockerfile'), bytes);
    return BuildContext.empty(root);
  }

  private async runStages(
    stages: StageDefinition[], needed: StageDefinition[], metaArgs: Map<string, string | undefined>, request: BuildRequest,
    settings: BuildSettings, context: BuildContext, write: (text: string) => void, emit: (message: BuildMessage) => void,
  ): Promise<ImageRecord> {
    const total = needed.reduce((count, stage) => count + 1 + stage.instructions.length, 0);
    const firstStep = new Map<number, number>();
    let step = 1;
    for (const stage of needed) {
      firstStep.set(stage.index, step);
      step += 1 + stage.instructions.length;
    }
    const output = new OrderedOutput(needed.map((stage) => stage.index), write);
    const results = new Map<number, Promise<ImageRecord>>();
    const failure = new AbortController();
    const stageByName = (name: string) => stages.find((stage) => stage.name === name.toLowerCase()) ?? (/^\d+$/.test(name) ? stages[Number(name)] : undefined);
    const imageOf = async (name: string): Promise<ImageRecord> => {
      const stage = stageByName(name);
      if (stage) {
        const result = results.get(stage.index);
        if (!result) throw badParameter(`stage ${name} is not built`);
        return result;
      }
      return this.baseImage(name, request.pull, emit);
    };
    const runStage = async (definition: StageDefinition): Promise<ImageRecord> => {
      const out = output.writer(definition.index);
      let number = firstStep.get(definition.index)!;
      out(`Step ${number++}/${total} : ${definition.from.original}\n`);
      const base = await imageOf(definition.base);
      out(` ---> ${shortId(base.id)}\n`);
      const stage = new Stage(base, this.services, settings, context, metaArgs, imageOf, out);
      const triggers = base.config.config?.OnBuild ?? [];
      if (triggers.length > 0) {
        out(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}\n`);
        for (const trigger of triggers) {
          for (const instruction of parseDockerfile(trigger).instructions) {
            await stage.run(instruction);
            out(` ---> ${shortId(stage.image.id)}\n`);
          }
        }
      }
      for (const instruction of definition.instructions) {
        if (failure.signal.aborted || settings.signal.aborted) throw new Error('build cancelled');
        out(`Step ${number++}/${total} : ${instruction.original}\n`);
        await stage.run(instruction);
        out(` ---> ${shortId(stage.image.id)}\n`);
      }
      return stage.image;
    };
    for (const definition of needed) {
      const result = runStage(definition).finally(() => output.finish(definition.index));
      result.catch(() => failure.abort());
      results.set(definition.index, result);
    }
    const settled = await Promise.allSettled(needed.map((definition) => results.get(definition.index)!));
    for (const outcome of settled) {
      if (outcome.status === 'rejected' && !(outcome.reason instanceof Error && outcome.reason.message === 'build cancelled')) throw outcome.reason;
    }
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
    return results.get(needed[needed.length - 1]!.index)!;
  }

  private async baseImage(name: string, pull: boolean, emit: (message: BuildMessage) => void): Promise<ImageRecord> {
    if (name === 'scratch') return this.scratch();
    const existing = pull ? undefined : this.services.images.resolve(name);
    if (existing) return existing;
    try {
      return await this.services.pull(name, emit);
    } catch (error) {
      const local = this.services.images.resolve(name);
      if (local && pull) return local;
      throw isEngineError(error) ? error : notFound((error as Error).message);
    }
  }

  /** FROM scratch: an image with no layer and an empty config, the same one every time. */
  private scratch(): Promise<ImageRecord> {
    return this.services.images.createFromConfig({ architecture: hostArchitecture(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } });
  }
}

const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

/** The ARGs before the first FROM and the stages, FROM lines expanded with those ARGs. */
export function splitStages(instructions: DockerfileInstruction[], buildArgs: ReadonlyMap<string, string | null>): { metaArgs: Map<string, string | undefined>; stages: StageDefinition[] } {
  const metaArgs = new Map<string, string | undefined>();
  const stages: StageDefinition[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const env = [...metaArgs].filter(([, value]) => value !== undefined).map(([name, value]) => `${name}=${value}`);
      const words = instruction.rest.split(/\s+/).filter((word) => word !== '');
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toUpperCase() === 'AS')) {
        throw parseError(instruction.startLine, 'FROM requires either one or three arguments');
      }
      const name = words[2]?.toLowerCase();
      if (name !== undefined && !/^[a-z][a-z0-9-_.]*$/.test(name)) throw parseError(instruction.startLine, `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
      if (name !== undefined && stages.some((stage) => stage.name === name)) throw parseError(instruction.startLine, `duplicate name ${name}`);
      const base = processWord(words[0]!, env);
      if (base === '') throw parseError(instruction.startLine, 'base name (' + words[0] + ') should not be blank');
      stages.push({ index: stages.length, name, base, from: instruction, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) {
      current.instructions.push(instruction);
      continue;
    }
    if (instruction.keyword !== 'ARG') throw parseError(instruction.startLine, 'no build stage in current context');
    for (const word of instruction.rest.split(/\s+/).filter((part) => part !== '')) {
      const equals = word.indexOf('=');
      const name = equals >= 0 ? word.slice(0, equals) : word;
      const given = buildArgs.get(name);
      metaArgs.set(name, given !== undefined && given !== null ? given : equals >= 0 ? word.slice(equals + 1) : undefined);
    }
  }
  if (stages.length === 0) throw badParameter('the Dockerfile (Dockerfile) cannot be empty');
  return { metaArgs, stages };
}

function pickTarget(stages: StageDefinition[], target: string | undefined): StageDefinition {
  if (!target) return stages[stages.length - 1]!;
  const found = stages.find((stage) => stage.name === target.toLowerCase());
  if (!found) throw badParameter(`failed to reach build target ${target} in Dockerfile`);
  return found;
}

/** The target and the stages it uses (FROM <stage>, COPY --from=<stage>), in file order. */
export function neededStages(stages: StageDefinition[], target: StageDefinition, metaArgs: ReadonlyMap<string, string | undefined>): StageDefinition[] {
  const env = [...metaArgs].filter(([, value]) => value !== undefined).map(([name, value]) => `${name}=${value}`);
  const find = (name: string, before: number): StageDefinition | undefined => {
    const byName = stages.find((stage) => stage.name === name.toLowerCase() && stage.index < before);
    if (byName) return byName;
    if (/^\d+$/.test(name)) {
      const index = Number(name);
      if (index >= before) throw badParameter(`invalid from flag value ${name}: refers to current build stage`);
      return stages[index];
    }
    return undefined;
  };
  const needed = new Set<number>();
  const visit = (stage: StageDefinition) => {
    if (needed.has(stage.index)) return;
    needed.add(stage.index);
    const base = find(stage.base, stage.index);
    if (base) visit(base);
    for (const instruction of stage.instructions) {
      for (const flag of instruction.flags) {
        if (!/^--from=/.test(flag) || instruction.keyword !== 'COPY') continue;
        const name = processWord(flag.slice('--from='.length), env);
        const source = find(name, stage.index);
        if (source) visit(source);
        else if (stages.some((other) => other.name === name.toLowerCase())) throw badParameter(`invalid from flag value ${name}: refers to current build stage`);
      }
    }
  };
  visit(target);
  return stages.filter((stage) => needed.has(stage.index));
}

/** Output of stages in file order, whatever order they run in. */
class OrderedOutput {
  private position = 0;
  private readonly buffers = new Map<number, string[]>();
  private readonly done = new Set<number>();

  constructor(private readonly order: number[], private readonly write: (text: string) => void) {
    for (const index of order) this.buffers.set(index, []);
  }

  writer(index: number): (text: string) => void {
    return (text) => {
      if (this.order[this.position] === index) this.write(text);
      else this.buffers.get(index)?.push(text);
    };
  }

  finish(index: number): void {
    this.done.add(index);
    while (this.position < this.order.length && this.done.has(this.order[this.position]!)) {
      this.position++;
      const next = this.order[this.position];
      if (next === undefined) break;
      for (const text of this.buffers.get(next) ?? []) this.write(text);
      this.buffers.set(next, []);
    }
  }
}
