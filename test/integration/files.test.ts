// Container files: cp both ways (our CLI and the docker CLI), the archive API's path
// resolution inside the container root, uploads that may not escape, diff, export | import,
// and port's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { BERTH, eventually, runCommand, useDaemon, type CommandResult } from './harness.js';

const daemon = useDaemon();
const berth = (...args: string[]) => daemon.berthOk(args);

function local(...parts: string[]): string {
  const dir = join(daemon.root, 'local');
  mkdirSync(dir, { recursive: true });
  return join(dir, ...parts);
}

function failed(result: CommandResult, code: number, stderr: string): void {
  assert.equal(result.code, code, JSON.stringify(result));
  // The docker CLI logs its tar writer's complaints before some errors: the message is the last line.
  assert.equal(result.stderr.replace(/^time="[^\n]*\n/gm, ''), stderr);
}

/** `tar -tv --numeric-owner` of a tar file: "mode uid/gid name" per entry. */
function tarListing(path: string): string[] {
  return execFileSync('tar', ['-tv', '--numeric-owner', '-f', path], { encoding: 'utf8' }).trim().split('\n')
    .map((line) => { const fields = line.split(/\s+/); return `${fields[0]} ${fields[1]} ${fields.slice(5).join(' ')}`; });
}

/** A tar made of the given entries, as bytes. */
async function tarBytes(entries: Array<{ header: { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string }; body?: string }>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const { header, body } of entries) pack.entry(header, body ?? '');
  pack.finalize();
  return Buffer.concat(await Readable.from(pack as AsyncIterable<Buffer>).toArray() as Buffer[]);
}

const archive = (container: string, path: string, query = '') => `/containers/${container}/archive?path=${encodeURIComponent(path)}${query}`;

test('cp from a stopped container: a file, a directory, into a directory, dir/. and a tar on stdout', async () => {
  await berth('create', '--name', 'f-out', 'busybox', 'true');
  const passwd = '/etc/passwd';
  const result = await daemon.berth(['cp', `f-out:${passwd}`, local('passwd')]);
  assert.deepEqual(result, { code: 0, stdout: '', stderr: '' }, 'no summary without a terminal');
  assert.match(readFileSync(local('passwd'), 'utf8'), /^root:x:0:0:/);

  mkdirSync(local('into'));
  await berth('cp', 'f-out:/etc', local('into'));
  assert.ok(existsSync(local('into/etc/passwd')));
  await berth('cp', 'f-out:/etc', local('renamed'));
  assert.ok(existsSync(local('renamed/group')));
  await berth('cp', 'f-out:/etc/.', local('into'));
  assert.ok(existsSync(local('into/passwd')) && existsSync(local('into/shadow')));

  const tar = await runCommand('bash', ['-c', `node ${BERTH} -H ${daemon.host} cp f-out:/etc/group - | tar -t`]);
  assert.equal(tar.stdout, 'group\n');
  const dirTar = await runCommand('bash', ['-c', `node ${BERTH} -H ${daemon.host} cp f-out:/var - | tar -t`]);
  assert.equal(dirTar.stdout, 'var/\nvar/spool/\nvar/spool/mail/\nvar/www/\n');

  // The docker CLI, the same way.
  await daemon.dockerOk(['cp', 'f-out:/etc/group', local('group-docker')]);
  assert.equal(readFileSync(local('group-docker'), 'utf8'), readFileSync(local('into/group'), 'utf8'));
  await daemon.dockerOk(['cp', 'f-out:/var/.', local('var-docker')]);
  assert.ok(lstatSync(local('var-docker/spool/mail')).isDirectory());
  await daemon.dockerOk(['container', 'cp', 'f-out:/var', local('into')]);
  assert.ok(existsSync(local('into/var/www')));
});

test('cp into containers: files, directories, dir/., a tar on stdin, -a ownership; stopped and running', async () => {
  mkdirSync(local('in/sub'), { recursive: true });
  writeFileSync(local('in/a'), 'a\n');
  writeFileSync(local('in/sub/b'), 'b\n');
  chownSync(local('in/a'), 1234, 5678);
  await berth('create', '--name', 'f-in', '-u', '4321:8765', 'busybox', 'true');
  await berth('cp', local('in'), 'f-in:/tmp');
  await berth('cp', `${local('in')}/.`, 'f-in:/var');
  await berth('cp', '-a', local('in/a'), 'f-in:/owned');
  await berth('cp', local('in/sub/b'), 'f-in:/etc/renamed');
  await daemon.dockerOk(['cp', local('in'), 'f-in:/docker-dir']);
  await daemon.dockerOk(['cp', '-a', local('in/sub/b'), 'f-in:/docker-owned']);
  const stdinTar = execFileSync('tar', ['-C', local('in'), '-c', 'sub']);
  assert.equal((await daemon.berth(['cp', '-', 'f-in:/home'], { input: stdinTar })).code, 0);
  assert.equal((await daemon.docker(['cp', '-', 'f-in:/root'], { input: stdinTar })).code, 0);

  await berth('export', '-o', local('f-in.tar'), 'f-in');
  const entries = tarListing(local('f-in.tar'));
  for (const expected of [
    '-rw-r--r-- 1234/5678 tmp/in/a', 'drwxr-xr-x 0/0 tmp/in/sub/', '-rw-r--r-- 0/0 tmp/in/sub/b',
    '-rw-r--r-- 1234/5678 var/a', '-rw-r--r-- 0/0 var/sub/b',
    '-rw-r--r-- 4321/8765 owned', '-rw-r--r-- 4321/8765 docker-owned', '-rw-r--r-- 0/0 etc/renamed',
    '-rw-r--r-- 1234/5678 docker-dir/a', '-rw-r--r-- 0/0 home/sub/b', '-rw-r--r-- 0/0 root/sub/b',
  ]) assert.ok(entries.includes(expected), `${expected} in\n${entries.join('\n')}`);

  // A running container sees the file at once, and files come out of it.
  await berth('run', '-d', '--name', 'f-running', 'busybox', 'sh', '-c', 'echo from-inside > /tmp/out; until [ -f /tmp/in.txt ]; do sleep 0.1; done; cat /tmp/in.txt');
  writeFileSync(local('in.txt'), 'hello running\n');
  await berth('cp', local('in.txt'), 'f-running:/tmp/');
  assert.equal((await berth('wait', 'f-running')).trim(), '0');
  assert.equal(await berth('logs', 'f-running'), 'hello running\n');
  await berth('run', '-d', '--name', 'f-running2', 'busybox', 'sh', '-c', 'echo from-inside > /tmp/out; sleep 60');
  const out = await eventually(async () => {
    const result = await daemon.berth(['cp', 'f-running2:/tmp/out', local('running-out')]);
    return result.code === 0 && readFileSync(local('running-out'), 'utf8');
  }, 10_000, 'cp from a running container');
  assert.equal(out, 'from-inside\n');
  await daemon.dockerOk(['cp', local('in.txt'), 'f-running2:/tmp/docker-in.txt']);
  await daemon.dockerOk(['cp', 'f-running2:/tmp/docker-in.txt', local('docker-roundtrip')]);
  assert.equal(readFileSync(local('docker-roundtrip'), 'utf8'), 'hello running\n');
  await berth('rm', '-f', 'f-running2');
});

test('cp errors: docker\'s messages and exit codes, nothing created', async () => {
  await berth('create', '--name', 'f-err', 'busybox', 'true');
  writeFileSync(local('e.txt'), 'e\n');
  for (const run of [daemon.berth.bind(daemon), daemon.docker.bind(daemon)]) {
    failed(await run(['cp', 'f-err:/nonexistent', local('missing-out')]), 1, 'Error response from daemon: Could not find the file /nonexistent in container f-err\n');
    assert.ok(!existsSync(local('missing-out')));
    failed(await run(['cp', local('e.txt'), 'f-err:/missing/']), 1, 'no such directory\n');
    failed(await run(['cp', local('e.txt'), 'f-err:/missing/sub/x']), 1, 'Error response from daemon: Could not find the file /missing/sub in container f-err\n');
    failed(await run(['cp', 'f-err:/etc/passwd', local('nodir/sub')]), 1, `invalid output path: directory "${local('nodir')}" does not exist\n`);
    failed(await run(['cp', 'f-err:/etc', local('e.txt')]), 1, 'cannot copy directory\n');
    failed(await run(['cp', local('e.txt'), local('e2.txt')]), 1, 'must specify at least one container source\n');
    failed(await run(['cp', 'f-err:/a', 'f-out:/b']), 1, 'copying between containers is not supported\n');
    failed(await run(['cp', '-', 'f-err:/etc/passwd']), 1, 'destination "f-err:/etc/passwd" must be a directory\n');
    failed(await run(['cp', 'nosuch:/etc', local('x')]), 1, 'Error response from daemon: No such container: nosuch\n');
  }
  const stat = await daemon.api('HEAD', archive('f-err', '/missing'));
  assert.equal(stat.status, 404, 'nothing was created');

  await berth('create', '--name', 'f-ro', '--read-only', 'busybox', 'true');
  failed(await daemon.berth(['cp', local('e.txt'), 'f-ro:/tmp/']), 1, 'Error response from daemon: container rootfs is marked read-only\n');
  // moby answers 400 (InvalidParameter), whatever the API document's 403 says.
  const readOnly = await daemon.api('PUT', archive('f-ro', '/tmp'), await tarBytes([{ header: { name: 'x' } }]));
  assert.deepEqual([readOnly.status, readOnly.json().message], [400, 'container rootfs is marked read-only']);

  const notDir = await daemon.api('PUT', archive('f-err', '/etc/passwd'), await tarBytes([{ header: { name: 'x' } }]));
  assert.deepEqual([notDir.status, notDir.json().message], [400, 'extraction point is not a directory']);
  const noPath = await daemon.api('GET', '/containers/f-err/archive');
  assert.deepEqual([noPath.status, noPath.json().message], [400, 'bad parameter: pathcannot be empty']);
  const notDirStat = await daemon.api('GET', archive('f-err', '/etc/passwd/'));
  assert.deepEqual([notDirStat.status, notDirStat.json().message], [500, 'lstat /etc/passwd/: not a directory']);
});

test('paths resolve inside the container root: symlinks and ".." never reach the host', async () => {
  const marker = `berth-files-test-${process.pid}`;
  assert.ok(existsSync('/etc/os-release'), 'a host file the image lacks');
  await berth('run', '--name', 'f-links', 'busybox', 'sh', '-c', [
    'echo inside > /etc/marker', 'ln -s /etc /tmp/abs', 'ln -s ../../../../../../../etc /tmp/up', 'ln -s /etc/passwd /tmp/pw',
    'ln -s / /tmp/root', 'ln -s loop2 /tmp/loop1', 'ln -s loop1 /tmp/loop2',
  ].join('; '));
  for (const path of ['/tmp/abs/marker', '/tmp/up/marker', '/../../../../etc/marker', '/tmp/root/../../etc/marker']) {
    const result = await runCommand('bash', ['-c', `node ${BERTH} -H ${daemon.host} cp 'f-links:${path}' - | tar -xO`]);
    assert.equal(result.stdout, 'inside\n', path);
  }
  for (const path of ['/tmp/up/os-release', '/../../../etc/os-release', '/tmp/root/etc/os-release']) {
    failed(await daemon.berth(['cp', `f-links:${path}`, local('leak')]), 1, `Error response from daemon: Could not find the file ${path} in container f-links\n`);
  }
  assert.ok(!existsSync(local('leak')));

  const head = await daemon.api('HEAD', archive('f-links', '/tmp/up'));
  assert.equal(head.status, 200);
  const stat = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
  assert.deepEqual({ name: stat.name, mode: stat.mode, linkTarget: stat.linkTarget }, { name: 'up', mode: 2 ** 27 + 0o777, linkTarget: '/etc' });
  assert.match(stat.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

  // -L copies the target; without it the link itself.
  await berth('cp', '-L', 'f-links:/tmp/pw', local('pw-followed'));
  assert.match(readFileSync(local('pw-followed'), 'utf8'), /^root:x:0:0:/);
  await daemon.dockerOk(['cp', 'f-links:/tmp/pw', local('pw-link')]);
  assert.equal(readlinkSync(local('pw-link')), '/etc/passwd');

  // Writes through links land in the container.
  writeFileSync(local(marker), 'evil\n');
  await berth('cp', local(marker), 'f-links:/tmp/root/etc/');
  await daemon.dockerOk(['cp', local(marker), 'f-links:/tmp/up/']);
  assert.ok(!existsSync(`/etc/${marker}`));
  const back = await runCommand('bash', ['-c', `node ${BERTH} -H ${daemon.host} cp 'f-links:/etc/${marker}' - | tar -xO`]);
  assert.equal(back.stdout, 'evil\n');

  const loop = await daemon.berth(['cp', 'f-links:/tmp/loop1/x', local('loop')]);
  failed(loop, 1, 'Error response from daemon: lstat /tmp/loop1/x: too many levels of symbolic links\n');
});

test('an uploaded archive may not escape its target: refused whole, or kept inside', async () => {
  const marker = `berth-files-upload-${process.pid}`;
  await berth('create', '--name', 'f-up', 'busybox', 'true');
  const put = async (path: string, entries: Parameters<typeof tarBytes>[0], query = '') =>
    daemon.api('PUT', archive('f-up', path, query), await tarBytes(entries), { 'Content-Type': 'application/x-tar' });

  const escape = await put('/tmp', [{ header: { name: 'first.txt' }, body: '1' }, { header: { name: '../escape.txt' }, body: '2' }]);
  assert.deepEqual([escape.status, escape.json().message], [500, '"../escape.txt" is outside of "/tmp"']);
  const link = await put('/tmp', [{ header: { name: 'first.txt' } }, { header: { name: 'l', type: 'symlink', linkname: '../../etc' } }]);
  assert.deepEqual([link.status, link.json().message], [500, 'invalid symlink "/tmp/l" -> "../../etc"']);
  const hard = await put('/tmp', [{ header: { name: 'first.txt' } }, { header: { name: 'h', type: 'link', linkname: '../etc/passwd' } }]);
  assert.deepEqual([hard.status, hard.json().message], [500, 'invalid hardlink "/etc/passwd" -> "../etc/passwd"']);
  const clash = await put('/', [{ header: { name: 'first.txt' } }, { header: { name: 'tmp' }, body: 'x' }], '&noOverwriteDirNonDir=true');
  assert.deepEqual([clash.status, clash.json().message], [500, 'cannot overwrite directory "/tmp" with non-directory "/"']);
  for (const path of ['/tmp/first.txt', '/first.txt', '/escape.txt']) assert.equal((await daemon.api('HEAD', archive('f-up', path))).status, 404, `${path} was not written`);

  // Absolute names and absolute links stay inside the container, also when written through.
  const inside = await put('/tmp', [
    { header: { name: '/abs/file.txt' }, body: 'abs' },
    { header: { name: 'tolink', type: 'symlink', linkname: '/etc' } },
    { header: { name: `tolink/${marker}` }, body: 'through' },
  ]);
  assert.equal(inside.status, 200, inside.body);
  assert.equal((await daemon.api('HEAD', archive('f-up', '/tmp/abs/file.txt'))).status, 200);
  assert.equal((await daemon.api('HEAD', archive('f-up', `/etc/${marker}`))).status, 200);
  assert.ok(!existsSync(`/etc/${marker}`));
  const missing = await put('/nowhere', [{ header: { name: 'x' } }]);
  assert.deepEqual([missing.status, missing.json().message], [404, 'Could not find the file /nowhere in container f-up']);
});

test('diff lists additions, changes and deletions as docker does', async () => {
  await berth('run', '--name', 'f-diff', 'busybox', 'sh', '-c', [
    'rm /etc/passwd', 'rm -rf /var/spool', 'mkdir /var/spool', 'echo x > /var/spool/new', 'mkdir -p /new/dir',
    'echo hi > /new/dir/f', 'chmod 600 /etc/group', 'rmdir /home',
  ].join('; '));
  const expected = [
    'C /etc', 'C /etc/group', 'D /etc/passwd', 'D /home', 'A /new', 'A /new/dir', 'A /new/dir/f',
    'C /var', 'C /var/spool', 'D /var/spool/mail', 'A /var/spool/new',
  ].join('\n') + '\n';
  assert.equal(await berth('diff', 'f-diff'), expected);
  assert.equal(await berth('container', 'diff', 'f-diff'), expected);
  assert.equal(await daemon.dockerOk(['diff', 'f-diff']), expected);
  const changes = await daemon.api('GET', '/containers/f-diff/changes');
  assert.deepEqual(changes.json()[0], { Path: '/etc', Kind: 0 });

  // A container that ran and changed nothing: no changes (runc's mount points are not).
  await berth('run', '--name', 'f-nodiff', 'busybox', 'true');
  assert.equal(await berth('diff', 'f-nodiff'), '');
  assert.equal(await daemon.dockerOk(['diff', 'f-nodiff']), '');
  assert.equal((await daemon.api('GET', '/containers/f-nodiff/changes')).body, 'null\n');
  failed(await daemon.berth(['diff', 'nosuch']), 1, 'Error response from daemon: No such container: nosuch\n');
});

test('export | import round-trips a container\'s files; export refuses a terminal', async () => {
  await berth('run', '--name', 'f-exp', 'busybox', 'sh', '-c', 'echo round-trip > /root/proof');
  const piped = await runCommand('bash', ['-o', 'pipefail', '-c', `node ${BERTH} -H ${daemon.host} export f-exp | node ${BERTH} -H ${daemon.host} import - files/exported`]);
  assert.equal(piped.code, 0, JSON.stringify(piped));
  assert.equal(await berth('run', '--rm', 'files/exported', 'cat', '/root/proof'), 'round-trip\n');

  await daemon.dockerOk(['export', '-o', local('docker-export.tar'), 'f-exp']);
  await berth('container', 'export', '--output', local('berth-export.tar'), 'f-exp');
  assert.ok(readFileSync(local('docker-export.tar')).equals(readFileSync(local('berth-export.tar'))));
  const names = tarListing(local('berth-export.tar')).map((line) => line.split(' ')[2]);
  assert.ok(names.includes('root/proof') && names.includes('bin/busybox') && !names.some((name) => name.startsWith('/') || name.startsWith('./')));
  const dockerPiped = await runCommand('bash', ['-o', 'pipefail', '-c', `docker export f-exp | tar -xO root/proof`], { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: daemon.dockerConfig } });
  assert.equal(dockerPiped.stdout, 'round-trip\n');

  for (const command of [`node ${BERTH} -H ${daemon.host} export f-exp`, `DOCKER_HOST=${daemon.host} DOCKER_CONFIG=${daemon.dockerConfig} docker export f-exp`]) {
    const terminal = await runCommand('script', ['-qec', command, '/dev/null']);
    assert.equal(terminal.code, 1, command);
    assert.equal(terminal.stdout.trim(), 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  }
});

test('cp on a terminal prints docker\'s summary', async () => {
  writeFileSync(local('small.txt'), 'small\n');
  const env = `DOCKER_HOST=${daemon.host} DOCKER_CONFIG=${daemon.dockerConfig}`;
  for (const [cli, target] of [[`node ${BERTH} -H ${daemon.host}`, 'berth'], [`${env} docker`, 'docker']]) {
    const into = await runCommand('script', ['-qec', `${cli} cp ${local('small.txt')} f-out:/tmp/${target}.txt`, '/dev/null']);
    assert.equal(into.stdout, `Successfully copied 2.05kB to f-out:/tmp/${target}.txt\r\n`, cli);
    const out = await runCommand('script', ['-qec', `${cli} cp f-out:/tmp/${target}.txt ${local(`${target}-back.txt`)}`, '/dev/null']);
    assert.equal(out.stdout, `Successfully copied 2.05kB to ${local(`${target}-back.txt`)}\r\n`, cli);
    const quiet = await runCommand('script', ['-qec', `${cli} cp -q f-out:/tmp/${target}.txt ${local(`${target}-quiet.txt`)}`, '/dev/null']);
    assert.equal(quiet.stdout, '', cli);
  }
});

test('port: nothing published yet; one private port is docker\'s error', async () => {
  await berth('create', '--name', 'f-port', 'busybox', 'true');
  assert.equal(await berth('port', 'f-port'), '');
  assert.equal(await daemon.dockerOk(['port', 'f-port']), '');
  for (const run of [daemon.berth.bind(daemon), daemon.docker.bind(daemon)]) {
    failed(await run(['port', 'f-port', '80/tcp']), 1, "Error: No public port '80/tcp' published for f-port\n");
    failed(await run(['container', 'port', 'f-port', '80']), 1, "Error: No public port '80' published for f-port\n");
  }
});
