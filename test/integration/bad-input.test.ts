// Bad request bodies and query strings get a 400 naming what is wrong, and leave nothing behind
// (no container record; `docker ps -a` still works); options berthd does not implement are
// refused rather than silently dropped; field names match case-insensitively as in Docker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { useDaemon } from './harness.js';

const daemon = useDaemon();

async function runPython(script: string, ...args: string[]): Promise<string> {
  return (await promisify(execFile)('/usr/bin/python3', ['-W', 'ignore', '-c', script, ...args], { timeout: 30_000 })).stdout;
}

async function containerIds(): Promise<string[]> {
  const list = await daemon.api('GET', '/containers/json?all=1');
  assert.equal(list.status, 200, list.body);
  return (list.json() as Array<{ Id: string }>).map((container) => container.Id).sort();
}

async function refusedCreate(body: unknown, message: RegExp): Promise<void> {
  const before = await containerIds();
  const response = await daemon.api('POST', '/containers/create', body);
  assert.equal(response.status, 400, `${JSON.stringify(body)} → ${response.status} ${response.body}`);
  assert.match((response.json() as { message: string }).message, message, JSON.stringify(body));
  assert.deepEqual(await containerIds(), before, `${JSON.stringify(body)} left a container behind`);
}

test('wrongly typed create bodies: 400 with Go\'s message naming the field, nothing stored', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ Image: 'busybox', Cmd: [1, 2] }, /cannot unmarshal number into Go struct field ContainerConfigWrapper\.Cmd of type string/],
    [{ Image: 'busybox', Env: 'A=1' }, /cannot unmarshal string into Go struct field ContainerConfigWrapper\.Env of type \[\]string/],
    [{ Image: 'busybox', HostConfig: { Memory: 'lots' } }, /^json: cannot unmarshal string into Go struct field HostConfig\.HostConfig\.Memory of type int64$/],
    [{ Image: 'busybox', Labels: { a: 5 } }, /Go struct field ContainerConfigWrapper\.Labels of type string/],
    [{ Image: 'busybox', HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 'x', Hard: 1 }] } }, /HostConfig\.Ulimits\.Soft of type int/],
    [{ Image: 'busybox', HostConfig: { Devices: [{ PathOnHost: 7 }] } }, /HostConfig\.Devices\.PathOnHost of type string/],
    [{ Image: 7 }, /ContainerConfigWrapper\.Image of type string/],
    [{ Image: 'busybox', Cmd: 7 }, /ContainerConfigWrapper\.Cmd of type \[\]string/],
    [null, /cannot unmarshal null into Go value of type ContainerConfigWrapper/],
    [[], /cannot unmarshal array into Go value/],
    [7, /cannot unmarshal number into Go value/],
    ['{"Image": "busybox",', /invalid character/],
    [Buffer.from([0x7b, 0x22, 0x49, 0x6d, 0x61, 0x67, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /not valid UTF-8/],
  ];
  for (const [body, message] of cases) await refusedCreate(body === null ? 'null' : body, message);
});

test('bad values in create bodies: 400 before anything is stored', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ Image: 'busybox', HostConfig: { Binds: ['::::'] } }, /invalid volume specification: '::::'/],
    [{ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'y' }] } } }, /invalid port specification: "y"/],
    [{ Image: 'busybox', StopSignal: 'SIGNOPE' }, /invalid signal: SIGNOPE/],
    [{ Image: 'busybox', WorkingDir: 'relative' }, /the working directory 'relative' is invalid, it needs to be an absolute path/],
    [{ Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], Interval: -5 } }, /Interval in Healthcheck cannot be less than 1ms/],
    [{ Image: 'busybox', HostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } }, /invalid ulimit type: bogus/],
  ];
  for (const [body, message] of cases) await refusedCreate(body, message);
  assert.equal((await daemon.docker(['ps', '-a'])).code, 0);
});

test('options berthd does not implement are refused with 400 naming them, by the API and both CLIs (exit 125)', async () => {
  await refusedCreate({ Image: 'busybox', HostConfig: { VolumeDriver: 'nfs' } }, /^HostConfig\.VolumeDriver \(--volume-driver\) is not supported by berthd yet$/);
  await refusedCreate({ Image: 'busybox', HostConfig: { LogConfig: { Type: 'syslog', Config: {} } } }, /HostConfig\.LogConfig/);
  const before = await containerIds();
  for (const flags of [['--log-driver', 'syslog']]) {
    const docker = await daemon.docker(['run', '--rm', ...flags, 'busybox', 'true']);
    assert.equal(docker.code, 125, JSON.stringify(docker));
    assert.match(docker.stderr, /Error response from daemon: HostConfig\.LogConfig .*is not supported by berthd yet/);
    const berth = await daemon.berth(['run', '--rm', ...flags, 'busybox', 'true']);
    assert.equal(berth.code, 125, JSON.stringify(berth));
    assert.match(berth.stderr, /Error response from daemon: HostConfig\.LogConfig .*is not supported by berthd yet/);
  }
  assert.deepEqual(await containerIds(), before);
  assert.equal((await daemon.docker(['ps', '-a'])).code, 0);
});

test('bad network settings in create bodies: Docker\'s status and words, nothing stored', async () => {
  const refused = async (body: unknown, status: number, message: RegExp) => {
    const before = await containerIds();
    const response = await daemon.api('POST', '/containers/create', body);
    assert.equal(response.status, status, `${JSON.stringify(body)} → ${response.status} ${response.body}`);
    assert.match((response.json() as { message: string }).message, message);
    assert.deepEqual(await containerIds(), before);
  };
  await refused({ Image: 'busybox', HostConfig: { NetworkMode: 'nonet' } }, 404, /^network nonet not found$/);
  await refused({ Image: 'busybox', NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '10.1.2.3' } } } } }, 400,
    /user specified IP address is supported on user defined networks only/);
  await refused({ Image: 'busybox', HostConfig: { PortBindings: { 'x/tcp': [{ HostPort: '1' }] } } }, 400, /invalid port specification: "x(\/tcp)?"/);
  await refused({ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } } }, 400, /invalid port specification: "70000"/);
  // moby answers 400 here (moby#39823): a 404 would make the docker CLI take it for a missing image and pull.
  await refused({ Image: 'busybox', HostConfig: { Links: ['nosuchcontainer:alias'] } }, 400, /could not get container for nosuchcontainer: No such container: nosuchcontainer/);
  const network = await daemon.api('POST', '/networks/create', { Name: 'badinput' });
  assert.equal(network.status, 201, network.body);
  try {
    await refused({ Image: 'busybox', HostConfig: { NetworkMode: 'badinput' }, NetworkingConfig: { EndpointsConfig: { badinput: { IPAMConfig: { IPv4Address: '192.0.2.200' } } } } }, 400,
      /no configured subnet or ip-range contain the IP address 192\.0\.2\.200/);
    const subnet = ((await daemon.api('GET', '/networks/badinput')).json() as { IPAM: { Config: Array<{ Subnet: string }> } }).IPAM.Config[0]!.Subnet;
    const overlapping = await daemon.api('POST', '/networks/create', { Name: 'overlap', IPAM: { Config: [{ Subnet: subnet }] } });
    assert.equal(overlapping.status, 403, overlapping.body);
    assert.match(overlapping.json().message, /Pool overlaps with other one on this address space/);
  } finally {
    await daemon.api('DELETE', '/networks/badinput');
  }
});

test('field names match case-insensitively at every level; docker-py\'s detachKeys is honoured', async () => {
  const created = await daemon.api('POST', '/containers/create?name=casefold', {
    image: 'busybox', cmd: ['sleep', '30'], labels: { Keep: 'Case' }, hostconfig: { memory: 16 * 1024 * 1024, restartpolicy: { name: 'no' } },
  });
  assert.equal(created.status, 201, created.body);
  try {
    const inspect = (await daemon.api('GET', '/containers/casefold/json')).json();
    assert.deepEqual(inspect.Config.Cmd, ['sleep', '30']);
    assert.deepEqual(inspect.Config.Labels, { Keep: 'Case' });
    assert.equal(inspect.HostConfig.Memory, 16 * 1024 * 1024);
    assert.equal((await daemon.api('POST', '/containers/casefold/start')).status, 204);
    const exec = await daemon.api('POST', '/containers/casefold/exec', { cmd: ['true'], attachStdout: true, detachKeys: 'ctrl-x' });
    assert.equal(exec.status, 201, exec.body);
    const execInspect = (await daemon.api('GET', `/exec/${exec.json().Id as string}/json`)).json();
    assert.equal(execInspect.DetachKeys, Buffer.from([24]).toString('base64'));
    assert.equal((await daemon.api('POST', '/containers/casefold/exec', { cmd: ['true'], detachKeys: 'ctrl-' })).status, 400);
    // docker-py itself: exec_create(detach_keys=...) sends "detachKeys".
    const script = 'import docker, sys; api = docker.APIClient(base_url=sys.argv[1], version="1.43"); '
      + 'e = api.exec_create("casefold", ["true"], detach_keys="ctrl-y"); print(api.exec_inspect(e["Id"])["DetachKeys"])';
    const python = await runPython(script, daemon.host);
    assert.equal(python.trim(), Buffer.from([25]).toString('base64'));
  } finally {
    await daemon.api('DELETE', '/containers/casefold?force=1');
  }
});

test('malformed query parameters are a 400, never a 500', async () => {
  for (const path of [
    '/containers/json?filters=%7B', '/containers/json?filters=%5B%5D', '/containers/json?filters=%7B%22label%22%3A%22x%22%7D',
    '/containers/json?limit=abc', '/images/json?filters=7', '/events?since=yesterday-ish&until=1',
  ]) {
    const response = await daemon.api('GET', path);
    assert.equal(response.status, 400, `${path} → ${response.status} ${response.body}`);
  }
  const created = await daemon.api('POST', '/containers/create?name=queries', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(created.status, 201, created.body);
  try {
    for (const path of ['/containers/queries/logs?stdout=1&since=abc', '/containers/queries/stop?t=soon', '/containers/queries/resize?h=x&w=1']) {
      const response = await daemon.api(path.includes('logs') ? 'GET' : 'POST', path);
      assert.equal(response.status, 400, `${path} → ${response.status} ${response.body}`);
    }
    // Docker's booleans: "none" and "" are false.
    assert.equal((await daemon.api('GET', '/containers/json?all=none')).json().length, (await daemon.api('GET', '/containers/json')).json().length);
  } finally {
    await daemon.api('DELETE', '/containers/queries?force=1');
  }
});

test('what docker-py sends for a plain run is accepted (nothing it sets by default is refused)', async () => {
  const script = 'import docker, sys; client = docker.DockerClient(base_url=sys.argv[1], version="1.43"); '
    + 'sys.stdout.write(client.containers.run("busybox", ["echo", "hi"], remove=True, environment={"A": "1"}, labels={"x": "y"}).decode())';
  assert.equal(await runPython(script, daemon.host), 'hi\n');
});
