// The cost of decoding a request body (parse, case-insensitive normalisation, the generated
// validator) per request, for a typical `docker run` create body and an exec create body.
// Run after `npm run build`: node bench/validate.mjs [iterations]
import { performance } from 'node:perf_hooks';
import { decodeBody } from '../dist/tsc/src/server/decode/decode.js';

const iterations = Number(process.argv[2] ?? 20000);

// What docker CLI 28 sends for `docker run -it --rm -e A=1 -l x=y --memory 64m busybox sh`.
const create = Buffer.from(JSON.stringify({
  Hostname: '', Domainname: '', User: '', AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, OpenStdin: true,
  StdinOnce: true, Env: ['A=1'], Cmd: ['sh'], Image: 'busybox', Volumes: {}, WorkingDir: '', Entrypoint: null, OnBuild: null,
  Labels: { x: 'y' },
  HostConfig: {
    Binds: null, ContainerIDFile: '', LogConfig: { Type: '', Config: {} }, NetworkMode: 'default', PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: true, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [50, 180],
    CapAdd: null, CapDrop: null, CgroupnsMode: '', Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null,
    IpcMode: '', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false,
    SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 0, Isolation: '', CpuShares: 0, Memory: 67108864, NanoCpus: 0,
    CgroupParent: '', BlkioWeight: 0, BlkioWeightDevice: [], BlkioDeviceReadBps: [], BlkioDeviceWriteBps: [], BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '',
    Devices: [], DeviceCgroupRules: null, DeviceRequests: null, MemoryReservation: 0, MemorySwap: 0, MemorySwappiness: null,
    OomKillDisable: null, PidsLimit: null, Ulimits: [], CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0,
    MaskedPaths: null, ReadonlyPaths: null,
  },
  NetworkingConfig: { EndpointsConfig: {} },
}));
const exec = Buffer.from(JSON.stringify({ AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false, Cmd: ['ls', '-l'], detachKeys: 'ctrl-x' }));

for (const [name, kind, body] of [['container create (docker run -it)', 'containerCreate', create], ['exec create', 'execCreate', exec]]) {
  for (let i = 0; i < 2000; i++) decodeBody(kind, body); // warm-up
  const started = performance.now();
  for (let i = 0; i < iterations; i++) decodeBody(kind, body);
  const perRequest = (performance.now() - started) / iterations;
  console.log(`${name}: ${(perRequest * 1000).toFixed(1)} µs per request (${body.length} bytes, ${iterations} runs)`);
}
