// Builds (POST /build, berth build, the docker CLI's classic builder) and commits against a
// test daemon: the Dockerfiles of test/fixtures/build/ are built, their images run and
// inspected; a rebuild uses the cache; a changed file invalidates exactly the steps from its
// COPY on; bad input fails with Docker's words and leaves no container behind.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT, runCommand, useDaemon } from './harness.js';

const daemon = useDaemon();
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'build');
const scratchDirs: string[] = [];
after(() => { for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true }); });

function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** A private copy of a fixture (a test that edits files must not touch the repository). */
function copyOf(name: string): string {
  const dir = mkdtempSync('/tmp/berth-build-ctx-');
  scratchDirs.push(dir);
  cpSync(fixture(name), dir, { recursive: true });
  return dir;
}

async function inspect(image: string): Promise<any> {
  return JSON.parse(await daemon.berthOk(['image', 'inspect', image]))[0];
}

async function run(image: string, ...command: string[]): Promise<string> {
  return daemon.berthOk(['run', '--rm', image, ...command]);
}

function layerCount(): number {
  return readdirSync(join(daemon.dataRoot, 'layers')).filter((name) => /^[0-9a-f]{64}$/.test(name)).length;
}

async function containerCount(): Promise<number> {
  return (await daemon.api('GET', '/containers/json?all=1')).json().length;
}

describe('Dockerfile instructions', () => {
  it('metadata: ARG, ENV, LABEL, WORKDIR, USER, VOLUME, EXPOSE, STOPSIGNAL, HEALTHCHECK, MAINTAINER', async () => {
    const output = await daemon.berthOk(['build', '-t', 'build-metadata', '--build-arg', 'WHO=berth', fixture('metadata')]);
    assert.match(output, /^Step 1\/15 : FROM busybox$/m);
    assert.match(output, /^Successfully tagged build-metadata:latest$/m);
    assert.doesNotMatch(output, /Running in/, 'metadata steps run no container');
    const image = await inspect('build-metadata');
    const config = image.Config;
    assert.deepEqual(config.Env, ['GREETING=hello', 'TARGET=berth', 'LEGACY=some words']);
    assert.deepEqual(config.Labels, { 'org.example.who': 'berth', 'quoted key': 'a value' });
    assert.equal(config.WorkingDir, '/srv/app');
    assert.equal(config.User, '1000:1000');
    assert.deepEqual(Object.keys(config.Volumes).sort(), ['/cache', '/data']);
    assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['53/udp', '80/tcp']);
    assert.equal(config.StopSignal, 'SIGINT');
    assert.deepEqual(config.Healthcheck, { Test: ['CMD-SHELL', 'wget -q localhost || exit 1'], Interval: 5e9, Retries: 2 });
    assert.deepEqual(config.Cmd, ['/bin/sh', '-c', 'echo "$GREETING $TARGET from $(pwd) as $(id -u)"']);
    assert.equal(image.Author, 'berth tests');
    assert.equal(image.RootFS.Layers.length, 3, 'each WORKDIR that made its directory made a layer');
    assert.equal((await run('build-metadata')).trim(), 'hello berth from /srv/app as 1000');
    const history = await daemon.berthOk(['image', 'history', '--no-trunc', '--format', '{{.CreatedBy}}', 'build-metadata']);
    assert.match(history, /^\/bin\/sh -c #\(nop\) {2}STOPSIGNAL SIGINT$/m);
    assert.match(history, /^\/bin\/sh -c #\(nop\) {2}ARG WHO=world$/m);
    assert.doesNotMatch(output, /not consumed/);
  });

  it('CMD and ENTRYPOINT interplay, SHELL, --target', async () => {
    await daemon.berthOk(['build', '-t', 'build-entry', '--target', 'second', fixture('entrypoint')]);
    const second = (await inspect('build-entry')).Config;
    assert.deepEqual(second.Entrypoint, ['/bin/sh', '-c', 'echo from-shell-entrypoint']);
    assert.equal(second.Cmd, null, 'ENTRYPOINT resets the inherited CMD');
    await daemon.berthOk(['build', '-t', 'build-entry-first', '--target', 'build-entry-missing', fixture('entrypoint')]).then(
      () => assert.fail('unknown target built'), (error: Error) => assert.match(error.message, /failed to reach build target build-entry-missing in Dockerfile/));
    const dockerfile = (await daemon.berth(['build', '-q', '-f', join(fixture('entrypoint'), 'Dockerfile'), '--target', 'second', fixture('entrypoint')])).stdout.trim();
    assert.match(dockerfile, /^sha256:[0-9a-f]{64}$/, '-q prints only the ID');
  });

  it('COPY and ADD: files, directories, wildcards, --chown, --chmod, tar extraction, relative destinations', async () => {
    await daemon.berthOk(['build', '-t', 'build-copy', fixture('copy-add')]);
    const listing = await run('build-copy', 'sh', '-c', [
      'cat /file-as-name /dir/a.txt', 'ls /wild | tr "\\n" " "; echo', 'cat /copied-src/top.txt /copied-src/sub/deep.txt',
      'stat -c "%u:%g %a %n" /owned/m.txt', 'cat /unpacked/inner/file.txt', 'ls /added | tr "\\n" " "; echo', 'cat /rel/a.txt /rel/relative-name',
    ].join('; '));
    assert.equal(listing, 'one\none\na.txt b.txt \ntop\ndeep\n1234:5678 640 /owned/m.txt\narchived\na.txt b.txt \none\none\n');
  });

  it('ONBUILD triggers run when the image is a base', async () => {
    await daemon.berthOk(['build', '-t', 'build-onbuild-parent', fixture('onbuild-parent')]);
    assert.deepEqual((await inspect('build-onbuild-parent')).Config.OnBuild, ['RUN echo triggered > /trigger.txt', 'ENV FROM_TRIGGER=yes']);
    const output = await daemon.berthOk(['build', '-t', 'build-onbuild-child', fixture('onbuild-child')]);
    assert.match(output, /# Executing 2 build triggers/);
    assert.match(output, /^triggered$/m);
    const child = (await inspect('build-onbuild-child')).Config;
    assert.equal(child.OnBuild, null);
    assert.ok(child.Env.includes('FROM_TRIGGER=yes'));
  });

  it('heredocs in RUN and COPY', async () => {
    await daemon.berthOk(['build', '-t', 'build-heredoc', fixture('heredoc')]);
    assert.equal(await run('build-heredoc', 'cat', '/heredoc-run.txt', '/heredoc-stdin.txt', '/heredoc-copy.txt'), 'first\nsecond\ntab-stripped\ncopied by heredoc\n');
  });

  it('.dockerignore with !, ** and directories, applied client side', async () => {
    await daemon.berthOk(['build', '-t', 'build-ignore', fixture('dockerignore')]);
    assert.equal(await run('build-ignore', 'cat', '/listing.txt'), '/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/important.log\n/ctx/keep/file.txt\n');
  });

  it('FROM scratch with COPY --from', async () => {
    await daemon.berthOk(['build', '-t', 'build-scratch', fixture('scratch')]);
    assert.equal(await run('build-scratch'), 'from scratch\n');
    assert.equal((await inspect('build-scratch')).RootFS.Layers.length, 1);
  });
});

describe('multi-stage builds and the cache', () => {
  it('builds only the stages the target needs, independent ones at once, and runs the result', async () => {
    const output = await daemon.berthOk(['build', '-t', 'build-multi', '--build-arg', 'VERSION=2.5', fixture('multistage')]);
    assert.doesNotMatch(output, /grep -q "HELLO"/, 'the test stage is not needed by the final one');
    assert.equal(await run('build-multi'), 'HELLO, WORLD from hello 2.5\n');
    assert.equal((await inspect('build-multi')).Config.User, 'nobody');
    const tested = await daemon.berthOk(['build', '--target', 'test', fixture('multistage')]);
    assert.match(tested, /grep -q "HELLO"/);
  });

  it('a rebuild does no work; a changed file invalidates exactly the steps from its COPY on', async () => {
    const context = copyOf('multistage');
    const first = await daemon.berthOk(['build', '-t', 'build-cache', context]);
    const second = await daemon.berthOk(['build', '-t', 'build-cache', context]);
    assert.doesNotMatch(second, /Running in/);
    assert.equal(second.match(/Using cache/g)?.length, second.match(/^Step /gm)!.length - 4, 'every step but the four FROMs came from the cache');
    assert.equal(/Successfully built (\w+)/.exec(second)![1], /Successfully built (\w+)/.exec(first)![1]);
    writeFileSync(join(context, 'app', 'hello.sh.in'), '#!/bin/sh\necho "@GREETING@ changed @VERSION@"\n');
    const third = await daemon.berthOk(['build', '-t', 'build-cache', context]);
    const steps = third.split(/^Step /m).slice(1);
    const rebuilt = steps.filter((step) => !/Using cache/.test(step) && !/^\d+\/\d+ : FROM/.test(step)).map((step) => step.split('\n')[0]!.replace(/^\d+\/\d+ : /, ''));
    assert.deepEqual(rebuilt, [
      'COPY app/ ./', 'COPY --from=version /out/VERSION ./', 'COPY --from=assets /assets/GREETING.txt ./',
      'RUN sed -e "s/@VERSION@/$(cat VERSION)/" -e "s/@GREETING@/$(cat GREETING.txt)/" hello.sh.in > /hello && chmod 755 /hello',
      'COPY --from=build /hello /usr/local/bin/hello', 'USER nobody', 'ENTRYPOINT ["/usr/local/bin/hello"]',
    ]);
    assert.equal(await run('build-cache'), 'HELLO, WORLD changed 1.0\n');
    const uncached = await daemon.berthOk(['build', '--no-cache', context]);
    assert.doesNotMatch(uncached, /Using cache/);
  });
});

describe('the docker CLI against berthd', () => {
  it('DOCKER_BUILDKIT=0 docker build gives the same config as berth build', async () => {
    await daemon.berthOk(['build', '-t', 'build-same-berth', '--no-cache', fixture('metadata')]);
    const output = await daemon.dockerOk(['build', '-t', 'build-same-docker', '--no-cache', fixture('metadata')]);
    assert.match(output, /Successfully tagged build-same-docker:latest/);
    const berthImage = await inspect('build-same-berth');
    const dockerImage = JSON.parse(await daemon.dockerOk(['image', 'inspect', 'build-same-docker']))[0];
    assert.deepEqual(dockerImage.Config, berthImage.Config);
    assert.equal(dockerImage.RootFS.Layers.length, berthImage.RootFS.Layers.length, 'the same steps made layers (their digests differ by the times of what they made)');
  });

  it('docker build -f - and a failing RUN with its exit code', async () => {
    const built = await daemon.docker(['build', '-q', '-f', '-', fixture('copy-add')], { input: 'FROM busybox\nCOPY a.txt /\nCMD ["cat", "/a.txt"]\n' });
    assert.equal(built.code, 0, built.stderr);
    assert.equal((await daemon.dockerOk(['run', '--rm', built.stdout.trim()])), 'one\n');
    const before = await containerCount();
    const failed = await daemon.docker(['build', '-'], { input: 'FROM busybox\nRUN echo hi && exit 3\n' });
    assert.equal(failed.code, 3, 'the docker CLI exits with the code of the errorDetail');
    assert.match(failed.stderr, /The command '\/bin\/sh -c echo hi && exit 3' returned a non-zero code: 3/);
    assert.equal(await containerCount(), before, 'the failed step left no container');
  });

  it('docker-compose build of a service with a build section', async () => {
    const project = mkdtempSync('/tmp/berth-build-compose-');
    scratchDirs.push(project);
    cpSync(fixture('metadata'), join(project, 'app'), { recursive: true });
    writeFileSync(join(project, 'docker-compose.yml'), [
      'version: "3"', 'services:', '  web:', '    build:', '      context: ./app', '      args:', '        WHO: compose',
      '    image: build-compose:latest', '    network_mode: none', '',
    ].join('\n'));
    const built = await runCommand('docker-compose', ['--project-directory', project, '-f', join(project, 'docker-compose.yml'), 'build'], {
      env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: daemon.dockerConfig }, timeoutMs: 120_000,
    });
    assert.equal(built.code, 0, built.stderr);
    assert.ok((await inspect('build-compose')).Config.Env.includes('TARGET=compose'));
  });

  it('docker commit with changes, author and message', async () => {
    await daemon.dockerOk(['run', '--name', 'build-commit-src', 'busybox', 'sh', '-c', 'echo committed > /new.txt && rm /bin/true']);
    const id = (await daemon.dockerOk(['commit', '-a', 'tester', '-m', 'a message', '-c', 'CMD ["cat", "/new.txt"]', '-c', 'ENV C=1', 'build-commit-src', 'build-committed:v1'])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await daemon.dockerOk(['run', '--rm', 'build-committed:v1']), 'committed\n');
    assert.equal((await daemon.docker(['run', '--rm', 'build-committed:v1', 'ls', '/bin/true'])).code, 1, 'the deletion is a whiteout in the new layer');
    const image = await inspect('build-committed:v1');
    assert.equal(image.Author, 'tester');
    assert.equal(image.Comment, 'a message');
    assert.match(image.Container, /^[0-9a-f]{64}$/);
    assert.deepEqual(image.ContainerConfig.Cmd, ['sh', '-c', 'echo committed > /new.txt && rm /bin/true']);
    assert.ok(image.Config.Env.includes('C=1'));
    assert.equal(image.RootFS.Layers.length, 2);
    const berthId = (await daemon.berthOk(['commit', '-p=false', 'build-commit-src'])).trim();
    assert.deepEqual((await inspect(berthId)).Config.Cmd, ['sh', '-c', 'echo committed > /new.txt && rm /bin/true']);
    await daemon.berthOk(['rm', 'build-commit-src']);
  });
});

describe('bad input', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown instruction', 'FROM busybox\n\nFOO bar\n', /dockerfile parse error on line 3: unknown instruction: FOO/],
    ['missing FROM', 'RUN true\n', /no build stage in current context/],
    ['COPY outside the context', 'FROM busybox\nCOPY ../secret /\n', /COPY failed: forbidden path outside the build context: \.\.\/secret \(\)/],
    ['COPY of an excluded file', 'FROM busybox\nCOPY debug.log /\n', /COPY failed: file not found in build context or excluded by \.dockerignore: stat debug\.log: file does not exist/],
    ['unknown --from stage', 'FROM busybox\nCOPY --from=nowhere /x /\n', /invalid from flag value nowhere/],
    ['failing RUN', 'FROM busybox\nRUN exit 7\n', /The command '\/bin\/sh -c exit 7' returned a non-zero code: 7/],
  ];
  for (const [name, dockerfile, message] of cases) {
    it(`${name}: Docker's message, nothing left behind`, async () => {
      const before = await containerCount();
      const layers = layerCount();
      const result = await daemon.berth(['build', '-f', '-', fixture('dockerignore')], { input: dockerfile });
      assert.equal(result.code, name === 'failing RUN' ? 7 : 1, result.stdout);
      assert.match(result.stderr, message);
      assert.equal(await containerCount(), before);
      assert.equal(layerCount(), layers);
    });
  }
});
