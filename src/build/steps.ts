// One stage of a build, step by step, as the classic builder evaluates it (moby
// builder/dockerfile/dispatchers.go): every step makes an image; metadata steps (ENV, LABEL,
// CMD, ...) a config-only one, RUN, COPY, ADD and WORKDIR one committed from a container
// made from the previous step's image (RUN runs it through the container service like any
// container); a step whose parent and step config match an earlier one reuses its image
// ("Using cache").
import { randomBytes } from 'node:crypto';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanPath } from '../archive/path.js';
import { RootScope } from '../archive/untar.js';
import type { ContainerCommitter } from '../containers/commit.js';
import type { ContainerService } from '../containers/service.js';
import { readContainerFile, resolveUser } from '../containers/user.js';
import { badParameter } from '../errdefs/errors.js';
import { applyInstruction, processWord } from '../images/changes.js';
import type { ImageCommitter } from '../images/commit.js';
import type { ImageRecord, ImageService } from '../images/service.js';
import { mountOverlay, unmount } from '../layers/overlay.js';
import { traced, traceNow, traceRecord } from '../util/trace.js';
import type { ContainerConfig, HostConfig } from '../wire/types.js';
import type { BuildCache } from './cache.js';
import { BuildContext } from './context.js';
import { instructionFlags, parseError, type DockerfileInstruction } from './dockerfile/parser.js';
import { checksumSources, copyIntoRoot, type CopySource } from './sources.js';

export interface StepServices {
  containers: ContainerService;
  images: ImageService;
  commits: ContainerCommitter;
  imageCommits: ImageCommitter;
  cache: BuildCache;
}

export interface BuildSettings {
  /** --build-arg values; null: take the value from the client's environment (already resolved by clients) or none. */
  buildArgs: Map<string, string | null>;
  noCache: boolean;
  rm: boolean;
  forceRm: boolean;
  networkMode: string;
  resources: Pick<HostConfig, 'Memory' | 'MemorySwap' | 'CpuShares' | 'CpusetCpus' | 'CpuPeriod' | 'CpuQuota' | 'ExtraHosts' | 'ShmSize'>;
  cacheFrom?: ReadonlySet<string>;
  /** Build-args some ARG declared (for the "not consumed" warning). */
  consumed: Set<string>;
  workDir: string;
  signal: AbortSignal;
}

/** What a stage needs from the rest of the build: the image of another stage (or any image) for COPY --from. */
export type FromResolver = (name: string) => Promise<ImageRecord>;

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);
const METADATA = new Set(['ENV', 'LABEL', 'CMD', 'ENTRYPOINT', 'EXPOSE', 'USER', 'STOPSIGNAL', 'VOLUME', 'ONBUILD', 'HEALTHCHECK']);

/** A RUN that exited non-zero: the stream's errorDetail carries its code, as Docker's does. */
export class StepFailed extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export class Stage {
  config: ContainerConfig;
  image: ImageRecord;
  private cmdSet = false;
  /** ARGs declared in this stage, with their values (undefined: declared without one). */
  private readonly args = new Map<string, string | undefined>();
  private author: string | undefined;

  constructor(
    base: ImageRecord,
    private readonly services: StepServices,
    private readonly settings: BuildSettings,
    private readonly context: BuildContext,
    private readonly metaArgs: ReadonlyMap<string, string | undefined>,
    private readonly resolveFrom: FromResolver,
    private readonly out: (text: string) => void,
  ) {
    this.image = base;
    this.config = structuredClone(base.config.config ?? {});
    this.config.OnBuild = null;
    this.author = base.config.author;
  }

  /** The values ARG made visible, as "NAME=value", for expansion and RUN's environment. */
  private argEnv(): string[] {
    const env: string[] = [];
    for (const [name, value] of this.args) if (value !== undefined) env.push(`${name}=${value}`);
    return env;
  }

  private expand(word: string): string {
    return processWord(word, [...this.argEnv(), ...(this.config.Env ?? [])]);
  }

  async run(instruction: DockerfileInstruction): Promise<void> {
    const { keyword } = instruction;
    if (METADATA.has(keyword)) {
      applyInstruction(this.config, instruction, { cmdSet: this.cmdSet, buildArgs: this.argEnv() });
      if (keyword === 'CMD') this.cmdSet = true;
      await this.commitMetadata(this.nopComment(instruction.original));
      return;
    }
    switch (keyword) {
      case 'WORKDIR':
        applyInstruction(this.config, instruction, { cmdSet: this.cmdSet, buildArgs: this.argEnv() });
        await this.containerStep(this.nopComment(`WORKDIR ${this.config.WorkingDir}`), async (rootfs) => {
          await new RootScope(rootfs).mkdirAll(this.config.WorkingDir!, { uid: 0, gid: 0 });
        });
        return;
      case 'ARG':
        this.declareArgs(instruction);
        await this.commitMetadata(this.nopComment(instruction.original));
        return;
      case 'MAINTAINER':
        if (instruction.rest === '') throw badParameter('MAINTAINER requires exactly one argument');
        this.author = instruction.rest;
        await this.commitMetadata(this.nopComment(instruction.original));
        return;
      case 'SHELL':
        if (!instruction.json || instruction.json.length === 0) throw badParameter('SHELL requires the arguments to be in JSON form');
        this.config.Shell = instruction.json;
        await this.commitMetadata(this.nopComment(instruction.original));
        return;
      case 'RUN':
        await this.runStep(instruction);
        return;
      case 'COPY':
      case 'ADD':
        await this.copyStep(instruction);
        return;
      default:
        throw parseError(instruction.startLine, `${keyword} is not allowed here`);
    }
  }

  private shell(): string[] {
    return this.config.Shell ?? DEFAULT_SHELL;
  }

  /** The step config's command of a metadata step: [shell..., "#(nop) ", "ENV A=b"], as the classic builder records it. */
  private nopComment(text: string): string[] {
    return [...this.shell(), '#(nop) ', text];
  }

  private declareArgs(instruction: DockerfileInstruction): void {
    const words = instruction.rest.split(/\s+/).filter((word) => word !== '');
    if (words.length === 0) throw badParameter('ARG requires at least one argument');
    for (const word of words) {
      const equals = word.indexOf('=');
      const name = equals >= 0 ? word.slice(0, equals) : word;
      let value = equals >= 0 ? this.expand(word.slice(equals + 1)) : undefined;
      if (value === undefined && this.metaArgs.has(name)) value = this.metaArgs.get(name);
      const given = this.settings.buildArgs.get(name);
      if (this.settings.buildArgs.has(name)) {
        this.settings.consumed.add(name);
        if (given !== null && given !== undefined) value = given;
      }
      this.args.set(name, value);
    }
  }

  /** The build args RUN sees: declared ones not overridden by ENV, and the proxy args given. */
  private runArgs(): { env: string[]; key: string[] } {
    const envKeys = new Set((this.config.Env ?? []).map((entry) => entry.split('=', 1)[0]));
    const declared = [...this.args].filter(([name, value]) => value !== undefined && !envKeys.has(name)).map(([name, value]) => `${name}=${value}`).sort();
    const proxies: string[] = [];
    for (const [name, value] of this.settings.buildArgs) {
      if (PROXY_ARGS.has(name) && !this.args.has(name) && value !== null) proxies.push(`${name}=${value}`);
    }
    return { env: [...declared, ...proxies], key: declared };
  }

  private async commitMetadata(stepCmd: string[]): Promise<void> {
    const stepConfig = { ...structuredClone(this.config), Cmd: stepCmd };
    if (this.useCache(stepConfig)) return;
    const image = await traced('build.image.write', () => this.services.imageCommits.commit({
      parent: this.image, diff: null, config: structuredClone(this.config), containerConfig: stepConfig,
      author: this.author, createdBy: stepCmd.join(' '),
    }));
    await traced('build.cache.record', () => this.services.cache.record(this.image.id, stepConfig, image.id));
    this.image = image;
  }

  private useCache(stepConfig: ContainerConfig): boolean {
    if (this.settings.noCache) return false;
    const looking = traceNow();
    const cached = this.services.cache.lookup(this.image.id, stepConfig, this.settings.cacheFrom);
    traceRecord('build.cache.lookup', traceNow() - looking);
    if (!cached) return false;
    this.out(' ---> Using cache\n');
    this.image = cached;
    this.config = structuredClone(cached.config.config ?? {});
    return true;
  }

  private async runStep(instruction: DockerfileInstruction): Promise<void> {
    const flags = instructionFlags(instruction, ['mount', 'network', 'security']);
    if (flags.size > 0) throw badParameter(`the --${[...flags.keys()][0]} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`);
    let command: string[];
    if (instruction.json) command = instruction.json;
    else if (instruction.heredocs.length === 1 && /^<<-?["']?[A-Za-z_][A-Za-z0-9_.-]*["']?$/.test(instruction.rest)) {
      command = [...this.shell(), instruction.heredocs[0]!.content];
    } else {
      const bodies = instruction.heredocs.map((heredoc) => `${heredoc.content}${heredoc.name}\n`).join('');
      command = [...this.shell(), bodies ? `${instruction.rest}\n${bodies}` : instruction.rest];
    }
    const { env, key } = this.runArgs();
    const stepCmd = key.length > 0 ? [`|${key.length}`, ...key, ...command] : command;
    const stepConfig: ContainerConfig = { ...structuredClone(this.config), Cmd: stepCmd };
    if (this.useCache(stepConfig)) return;
    const create = { Image: this.image.id, Cmd: command, Entrypoint: [], Env: [...(this.config.Env ?? []), ...env], Healthcheck: { Test: ['NONE'] } };
    const { Id } = await traced('build.container.create', () => this.services.containers.create({
      ...create, HostConfig: { NetworkMode: this.settings.networkMode, ...this.settings.resources },
    } as Parameters<ContainerService['create']>[0], undefined));
    this.out(` ---> Running in ${shortId(Id)}\n`);
    let failed = true;
    try {
      const output = this.services.containers.attachOutput(Id, { stdout: true, stderr: true, logs: false, stream: true }, this.settings.signal);
      // The classic builder shows a step's stderr in red.
      const pump = (async () => {
        for await (const entry of output) this.out(entry.stream === 'stderr' ? `\x1b[91m${entry.bytes.toString('utf8')}\x1b[0m` : entry.bytes.toString('utf8'));
      })();
      pump.catch(() => undefined);
      const running = traceNow();
      await this.services.containers.start(Id);
      const { StatusCode } = await this.services.containers.wait(Id, 'not-running');
      traceRecord('build.run', traceNow() - running);
      await pump;
      if (StatusCode !== 0) {
        throw new StepFailed(`The command '${command.join(' ')}' returned a non-zero code: ${StatusCode}`, StatusCode);
      }
      await this.commitContainer(Id, stepConfig);
      failed = false;
    } finally {
      await this.removeContainer(Id, failed);
    }
  }

  private async commitContainer(id: string, stepConfig: ContainerConfig): Promise<void> {
    const image = await traced('build.commit', () => this.services.commits.commit(id, {
      config: structuredClone(this.config), containerConfig: stepConfig, exactConfig: true, skipEmptyLayer: true, author: this.author, pause: false,
    }));
    await traced('build.cache.record', () => this.services.cache.record(this.image.id, stepConfig, image.id));
    this.image = image;
  }

  private async removeContainer(id: string, failed: boolean): Promise<void> {
    if (!(this.settings.forceRm || this.settings.rm)) return;
    if (!failed) this.out(`Removing intermediate container ${shortId(id)}\n`);
    await traced('build.container.remove', () => this.services.containers.remove(id, { force: true, volumes: true })).catch(() => undefined);
  }

  /** A step that changes the root filesystem without running anything (COPY, ADD, WORKDIR). */
  private async containerStep(stepCmd: string[], change: (rootfs: string) => Promise<void>): Promise<void> {
    const stepConfig: ContainerConfig = { ...structuredClone(this.config), Cmd: stepCmd };
    if (this.useCache(stepConfig)) return;
    const { Id } = await traced('build.container.create', () => this.services.containers.create({
      Image: this.image.id, Cmd: stepCmd, Entrypoint: [], Healthcheck: { Test: ['NONE'] }, HostConfig: { NetworkMode: 'none' },
    } as Parameters<ContainerService['create']>[0], undefined));
    try {
      const record = this.services.containers.get(Id);
      await traced('build.copy.write', () => this.services.containers.withRootfs(record, change));
      await this.commitContainer(Id, stepConfig);
    } finally {
      // No process ever ran in it: nothing to show, whatever the outcome.
      await traced('build.container.remove', () => this.services.containers.remove(Id, { force: true, volumes: true })).catch(() => undefined);
    }
  }

  private async copyStep(instruction: DockerfileInstruction): Promise<void> {
    const isAdd = instruction.keyword === 'ADD';
    const flags = instructionFlags(instruction, isAdd ? ['chown', 'chmod', 'checksum', 'keep-git-dir', 'link'] : ['from', 'chown', 'chmod', 'link', 'parents', 'exclude']);
    const words = (instruction.json ?? instruction.rest.split(/\s+/).filter((word) => word !== '')).map((word) => (word.startsWith('<<') ? word : this.expand(word)));
    if (words.length < 2) throw badParameter(`${instruction.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    const rawDest = words[words.length - 1]!;
    const dest = rawDest.startsWith('/') ? rawDest : `${cleanPath(`/${this.config.WorkingDir ?? ''}/${rawDest}`)}${rawDest.endsWith('/') || rawDest === '.' ? '/' : ''}`;
    const from = flags.get('from')?.[0];
    const fromImage = from !== undefined ? await this.resolveFrom(this.expand(from)).catch((error: unknown) => {
      throw badParameter(`invalid from flag value ${this.expand(from)}: ${error instanceof Error ? error.message : String(error)}`);
    }) : undefined;
    const sourceRoot = fromImage ? await this.mountImage(fromImage) : undefined;
    const sourceContext = sourceRoot ? BuildContext.empty(sourceRoot) : this.context;
    const heredocDir = join(this.settings.workDir, `heredoc-${randomBytes(6).toString('hex')}`);
    try {
      const sources: CopySource[] = [];
      for (const word of words.slice(0, -1)) {
        const heredoc = /^<<-?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?$/.exec(word);
        if (heredoc) {
          const doc = instruction.heredocs.find((candidate) => candidate.name === heredoc[1]);
          if (!doc) throw parseError(instruction.startLine, `unterminated heredoc ${heredoc[1]}`);
          await mkdir(heredocDir, { recursive: true });
          const hostPath = join(heredocDir, doc.name);
          await writeFile(hostPath, doc.content, { mode: 0o644 });
          sources.push({ name: doc.name, hostPath, isDirectory: false });
          continue;
        }
        if (isAdd && /^https?:\/\//.test(word)) sources.push(await this.download(word, heredocDir));
        else {
          const found = await traced('build.copy.sources', () => sourceContext.sources(instruction.keyword, word));
          const tree = sourceContext.tree();
          sources.push(...found.map((source) => ({ name: source.path.slice(source.path.lastIndexOf('/') + 1), hostPath: source.hostPath, isDirectory: source.isDirectory, tree })));
        }
      }
      if (sources.length === 0) throw badParameter(`${instruction.keyword} failed: no source files were specified`);
      if (sources.length > 1 && !dest.endsWith('/')) {
        throw badParameter(`When using ${instruction.keyword} with more than one source file, the destination must be a directory and end with a /`);
      }
      const chmodText = flags.get('chmod')?.[0];
      if (chmodText !== undefined && !/^[0-7]{1,4}$/.test(chmodText)) throw badParameter(`invalid chmod parameter: ${chmodText}`);
      const chown = flags.get('chown')?.[0];
      const flagText = [...instruction.flags.filter((flag) => !flag.startsWith('--from'))].join(' ');
      const description = `${instruction.keyword} ${flagText ? `${flagText} ` : ''}${from !== undefined ? `--from=${fromImage!.id} ` : ''}${await traced('build.copy.checksum', () => checksumSources(sources))} in ${dest} `;
      await this.containerStep([...this.shell(), `#(nop) ${description}`], async (rootfs) => {
        let owner;
        if (chown !== undefined) {
          const spec = this.expand(chown);
          const user = resolveUser(spec.includes(':') ? spec : `${spec}:${spec}`, await readContainerFile(rootfs, 'etc/passwd'), await readContainerFile(rootfs, 'etc/group'));
          owner = { uid: user.uid, gid: user.gid };
        }
        await sourceContext.unpackToDisk();
        await copyIntoRoot(rootfs, sources, dest, { owner, mode: chmodText !== undefined ? parseInt(chmodText, 8) : undefined, extractArchives: isAdd });
      });
    } finally {
      await rm(heredocDir, { recursive: true, force: true });
      if (sourceRoot) {
        await unmount(sourceRoot).catch(() => undefined);
        await rmdir(sourceRoot).catch(() => undefined);
      }
    }
  }

  private async mountImage(image: ImageRecord): Promise<string> {
    const target = join(this.settings.workDir, `from-${randomBytes(6).toString('hex')}`);
    await mountOverlay({ layersRoot: this.services.images.layersRoot, lowerDirs: await this.services.images.lowerDirs(image.topChainId), target, readonly: true });
    return target;
  }

  private async download(url: string, dir: string): Promise<CopySource> {
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.any([this.settings.signal, AbortSignal.timeout(60_000)]) });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw badParameter(`ADD failed: error downloading '${url}': ${cause}`);
    }
    if (!response.ok) throw badParameter(`ADD failed: failed to GET ${url} with status ${response.status} ${response.statusText}`);
    const name = decodeURIComponent(new URL(url).pathname.split('/').filter((part) => part !== '').pop() ?? '') || '__unnamed__';
    await mkdir(dir, { recursive: true });
    const hostPath = join(dir, name);
    await writeFile(hostPath, Buffer.from(await response.arrayBuffer()), { mode: 0o600 });
    return { name, hostPath, isDirectory: false, remote: true };
  }
}
