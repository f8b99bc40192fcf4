// docker-compose 1.29 (Debian's docker-compose, docker-py underneath) against berthd: a
// two-service project on compose's default network. `web` serves a page with busybox httpd,
// `client` fetches it by the service name (the embedded DNS answers "web"); up -d, ps, logs,
// then down removes the containers and the network, leaving nothing of the project behind.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { eventually, runCommand, useDaemon } from './harness.js';

const daemon = useDaemon();
const COMPOSE = '/usr/bin/docker-compose';
const PROJECT = `berthcompose${process.pid}`;

const COMPOSE_FILE = `version: "3.7"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
  client:
    image: busybox:latest
    depends_on: [web]
    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do if timeout 3 wget -q -O - http://web/; then exit 0; fi; sleep 1; done; exit 1"]
`;

function compose(args: string[], timeoutMs = 60_000) {
  const directory = join(daemon.root, 'compose');
  return runCommand(COMPOSE, ['--no-ansi', '-p', PROJECT, '-f', join(directory, 'docker-compose.yml'), ...args], {
    timeoutMs,
    env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: daemon.dockerConfig, COMPOSE_INTERACTIVE_NO_CLI: '1', PYTHONWARNINGS: 'ignore' },
  });
}

async function projectContainers(): Promise<Array<{ Id: string; Names: string[]; State: string; Labels: Record<string, string> }>> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${PROJECT}`] }));
  return (await daemon.api('GET', `/containers/json?all=1&filters=${filters}`)).json();
}

async function projectNetworks(): Promise<Array<{ Name: string; Id: string }>> {
  return ((await daemon.api('GET', '/networks')).json() as Array<{ Name: string; Id: string }>).filter((network) => network.Name.startsWith(PROJECT));
}

after(async () => {
  // A failed run still takes its project down before the harness removes the daemon.
  if (existsSync(join(daemon.root, 'compose'))) await compose(['down', '--remove-orphans', '-t', '1']).catch(() => undefined);
});

test('docker-compose up, ps, logs and down on the default network; one service reaches the other by name', async () => {
  assert.ok(existsSync(COMPOSE), `${COMPOSE} is missing (scripts/setup.sh --test installs docker-compose)`);
  mkdirSync(join(daemon.root, 'compose'), { recursive: true });
  writeFileSync(join(daemon.root, 'compose', 'docker-compose.yml'), COMPOSE_FILE);

  const up = await compose(['up', '-d']);
  assert.equal(up.code, 0, `up -d:\n${up.stdout}\n${up.stderr}\n${daemon.log.slice(-3000)}`);
  assert.match(up.stderr, new RegExp(`Creating network "${PROJECT}_default" with the default driver`));

  const networks = await projectNetworks();
  assert.deepEqual(networks.map((network) => network.Name), [`${PROJECT}_default`]);
  const network = (await daemon.api('GET', `/networks/${networks[0]!.Id}`)).json();
  assert.equal(network.Driver, 'bridge');
  assert.equal(network.Labels['com.docker.compose.network'], 'default');

  // The client exits 0 once it fetched the page through the name "web".
  const client = await eventually(async () => {
    const found = (await projectContainers()).find((container) => container.Labels['com.docker.compose.service'] === 'client');
    return found && found.State === 'exited' ? found : undefined;
  }, 40_000, 'the client service to finish');
  const inspect = (await daemon.api('GET', `/containers/${client.Id}/json`)).json();
  assert.equal(inspect.State.ExitCode, 0, `client exit code; its log:\n${(await compose(['logs', '--no-color', 'client'])).stdout}`);
  const web = (await projectContainers()).find((container) => container.Labels['com.docker.compose.service'] === 'web');
  assert.equal(web?.State, 'running');
  const webInspect = (await daemon.api('GET', `/containers/${web!.Id}/json`)).json();
  const endpoint = webInspect.NetworkSettings.Networks[`${PROJECT}_default`];
  assert.ok(endpoint?.IPAddress, `web has an address on the project network: ${JSON.stringify(webInspect.NetworkSettings)}`);
  assert.ok((endpoint.Aliases as string[]).includes('web'), `the service name is an alias: ${JSON.stringify(endpoint.Aliases)}`);

  const ps = await compose(['ps']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, new RegExp(`${PROJECT}_web_1 +.*Up`));
  assert.match(ps.stdout, new RegExp(`${PROJECT}_client_1 +.*Exit 0`));

  const logs = await compose(['logs', '--no-color', 'client']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /client_1 +\| hello-from-web/);

  const projectBridges = daemon.bridges().filter((bridge) => bridge !== daemon.bridge);
  assert.equal(projectBridges.length, 1, `the project network has its own bridge: ${projectBridges.join(', ')}`);
  const down = await compose(['down', '-t', '1']);
  assert.equal(down.code, 0, `down:\n${down.stdout}\n${down.stderr}`);
  assert.match(down.stderr, new RegExp(`Removing network ${PROJECT}_default`));
  assert.deepEqual(await projectContainers(), [], 'down removed the containers');
  assert.deepEqual(await projectNetworks(), [], 'down removed the network');
  const links = (await runCommand('ip', ['-o', 'link', 'show'])).stdout;
  for (const bridge of projectBridges) assert.ok(!new RegExp(`: ${bridge}[:@]`).test(links), `bridge ${bridge} is gone`);
});
