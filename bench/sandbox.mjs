// The network service alone, without containers: attach (sandbox, veth, records, rules) and
// detach of one container on the default bridge, N times, for one or more builds of berth
// interleaved, so that a loaded machine hurts them alike. Run it through bench/sandbox.sh (its own
// network and mount namespaces, with a sysfs of that network namespace: nothing of the host's).
//   node bench/sandbox.mjs RUNS [-p] DIST [DIST...]     (DIST: a dist/ folder with tsc/ inside)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const [runsArg, ...rest] = process.argv.slice(2);
const publish = rest[0] === '-p';
const dists = publish ? rest.slice(1) : rest;
const runs = Number(runsArg);

const sides = [];
for (const [index, dist] of dists.entries()) {
  const { NetworkService } = await import(join(dist, 'tsc/src/network/service.js'));
  const root = mkdtempSync(join(tmpdir(), 'berth-sandbox-bench-'));
  const service = new NetworkService({
    dataRoot: join(root, 'data'), execRoot: join(root, 'exec'), bridge: `bsb${index}`, bip: `10.${200 + index}.0.1/24`, mtu: 1500,
    ipForward: true, ipMasq: true, iptables: true, icc: true, defaultAddressPools: [], publish: () => undefined,
  });
  await service.init();
  await service.reconcile();
  sides.push({ dist, root, service, attach: [], detach: [], teardown: [] });
}

const container = (n, index) => ({
  id: `${index}${n}`.padStart(64, 'c'), name: `sandbox-bench-${n}`, running: false, hostname: 'h', domainname: '', env: [], networkMode: 'bridge',
  networks: { bridge: {} }, links: [], portBindings: publish ? { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(20000 + index * 1000 + n) }] } : null,
  publishAll: false, exposedPorts: publish ? { '80/tcp': {} } : null,
});

for (let n = 0; n < runs; n++) {
  for (const [index, side] of sides.entries()) {
    const started = performance.now();
    await side.service.attach(container(n, index));
    const attached = performance.now();
    await side.service.detach(container(n, index).id);
    const detached = performance.now();
    // Builds that tear the sandbox down after detach returns (tornDown): that part on its own.
    await side.service.tornDown?.(container(n, index).id);
    side.attach.push(attached - started);
    side.detach.push(detached - attached);
    side.teardown.push(performance.now() - attached);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const side of sides) {
  console.log(`${side.dist}: attach ${median(side.attach).toFixed(1)} ms, detach ${median(side.detach).toFixed(1)} ms, `
    + `detach until torn down ${median(side.teardown).toFixed(1)} ms (medians of ${runs}${publish ? ', one published port' : ''})`);
  await side.service.shutdown();
  rmSync(side.root, { recursive: true, force: true });
}
