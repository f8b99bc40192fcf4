// Container and system prune end to end: POST /containers/prune removes stopped containers only
// (label filter, prune event), docker's container prune and system prune --volumes leave what
// Docker leaves, and berth's system prune and system df -v print what the docker CLI prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDaemon } from './harness.js';

const daemon = useDaemon();

const containerNames = async () => (await daemon.api('GET', '/containers/json?all=1')).json()
  .map((container: { Names: string[] }) => container.Names[0]!.slice(1)).sort();
const volumeNames = async () => ((await daemon.api('GET', '/volumes')).json().Volumes ?? []).map((volume: { Name: string }) => volume.Name).sort();
const idOf = async (name: string) => (await daemon.api('GET', `/containers/${name}/json`)).json().Id as string;

/** One running, one exited (labelled) and one created container, plus an anonymous and a named volume on the exited one. */
async function makeContainers(prefix: string): Promise<void> {
  await daemon.berthOk(['run', '-d', '--name', `${prefix}-up`, 'busybox', 'sleep', '60']);
  await daemon.berthOk(['run', '--name', `${prefix}-exited`, '--label', 'tier=web', '-v', '/anon', '-v', `${prefix}-named:/n`, 'busybox', 'true']);
  await daemon.berthOk(['create', '--name', `${prefix}-created`, '--label', 'tier=db', 'busybox', 'true']);
}

async function removeRunning(prefix: string): Promise<void> {
  await daemon.berthOk(['rm', '-f', `${prefix}-up`]);
  await daemon.api('POST', '/containers/prune');
  await daemon.api('POST', `/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ all: ['true'] }))}`);
}

test('POST /containers/prune: stopped containers only, label filters, the prune event', async () => {
  await makeContainers('api');
  const since = Math.floor(Date.now() / 1000) - 1;
  const bad = await daemon.api('POST', `/containers/prune?filters=${encodeURIComponent(JSON.stringify({ status: ['exited'] }))}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.json().message, "invalid filter 'status'");

  const created = await idOf('api-created');
  const byLabel = await daemon.api('POST', `/containers/prune?filters=${encodeURIComponent(JSON.stringify({ label: ['tier=db'] }))}`);
  assert.equal(byLabel.status, 200);
  assert.deepEqual(byLabel.json(), { ContainersDeleted: [created], SpaceReclaimed: 0 });
  assert.deepEqual(await containerNames(), ['api-exited', 'api-up']);

  const exited = await idOf('api-exited');
  const rest = (await daemon.api('POST', '/containers/prune')).json();
  assert.deepEqual(rest.ContainersDeleted, [exited]);
  assert.ok(rest.SpaceReclaimed >= 0);
  assert.deepEqual(await containerNames(), ['api-up'], 'the running container stays');
  const none = (await daemon.api('POST', '/containers/prune')).json();
  assert.deepEqual(none, { ContainersDeleted: null, SpaceReclaimed: 0 });

  const events = await daemon.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: ['prune'] }))}`);
  const prunes = events.body.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  assert.equal(prunes.length, 3);
  assert.deepEqual(prunes.map((event) => [event.Type, event.Action]), [['container', 'prune'], ['container', 'prune'], ['container', 'prune']]);
  assert.equal(prunes[0].Actor.Attributes.reclaimed, '0');
  await removeRunning('api');
});

test('docker container prune and system prune --volumes leave what Docker leaves; berth prints what docker prints', async () => {
  const normalize = (text: string, prefix: string, ids: Record<string, string>) => {
    let result = text;
    for (const [name, id] of Object.entries(ids)) result = result.replaceAll(id, `<${name.replace(`${prefix}-`, '')}>`);
    return result.replace(/^[0-9a-f]{64}$/gm, '<anonymous>');
  };
  const outputs: Record<string, string> = {};
  for (const [prefix, cli] of [['d', 'docker'], ['b', 'berth']] as const) {
    await makeContainers(prefix);
    const run = cli === 'docker' ? (args: string[], input?: string) => daemon.docker(args, { input }) : (args: string[], input?: string) => daemon.berth(args, { input });
    const declined = await run(['system', 'prune', '--volumes'], 'n\n');
    assert.equal(declined.code, 0, declined.stderr);
    outputs[`${cli}-prompt`] = declined.stdout;
    assert.equal((await containerNames()).length, 3, 'a declined prune removes nothing');

    const ids = { [`${prefix}-exited`]: await idOf(`${prefix}-exited`), [`${prefix}-created`]: await idOf(`${prefix}-created`) };
    const anonymous = (await volumeNames()).filter((name: string) => /^[0-9a-f]{64}$/.test(name));
    assert.equal(anonymous.length, 1);
    const pruned = await run(['system', 'prune', '-f', '--volumes']);
    assert.equal(pruned.code, 0, pruned.stderr);
    outputs[cli] = normalize(pruned.stdout, prefix, ids);
    assert.deepEqual(await containerNames(), [`${prefix}-up`]);
    assert.deepEqual(await volumeNames(), [`${prefix}-named`], 'named volumes stay, the anonymous one went');
    assert.ok((await daemon.api('GET', '/images/busybox/json')).status === 200, 'an image a container uses stays');

    const again = await run(['container', 'prune', '-f']);
    outputs[`${cli}-container`] = again.stdout;
    await removeRunning(prefix);
  }
  assert.equal(outputs.berth, outputs.docker);
  assert.match(outputs.docker!, /^Deleted Containers:\n<(exited|created)>\n<(exited|created)>\n\nDeleted Volumes:\n<anonymous>\n\nTotal reclaimed space: /);
  // berth lists only what it prunes: it has no build cache.
  const withoutCache = outputs['docker-prompt']!.replace('  - unused build cache\n', '');
  assert.notEqual(withoutCache, outputs['docker-prompt']);
  assert.equal(outputs['berth-prompt'], withoutCache);
  assert.equal(outputs['berth-container'], 'Total reclaimed space: 0B\n');
  assert.equal(outputs['berth-container'], outputs['docker-container']);
});

test('berth system df -v prints docker system df -v', async () => {
  await makeContainers('df');
  try {
    // "2 seconds ago" may turn into "3 seconds ago" between the two commands: a few tries.
    let berth = '';
    let docker = '';
    for (let attempt = 0; attempt < 3 && (attempt === 0 || berth !== docker); attempt++) {
      [berth, docker] = [await daemon.berthOk(['system', 'df', '-v']), await daemon.dockerOk(['system', 'df', '-v'])];
    }
    assert.match(docker, /Containers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/);
    assert.match(docker, /\bdf-exited\n/);
    assert.match(docker, /Local Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\n/);
    assert.equal(berth, docker);
  } finally {
    await removeRunning('df');
  }
});
