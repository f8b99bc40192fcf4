// Networks as a lifecycle hook: before each start the container gets its network namespace
// (bridge and user networks: a sandbox made by the network service; container:X: the other
// container's namespace; host: none; none: a namespace with loopback only) and the /etc files
// hook gets what it needs (the container's address, link entries, the embedded DNS server).
// After the run the sandbox goes and its addresses and ports are freed, as Docker frees them on stop.
import { conflict, notFound } from '../errdefs/errors.js';
import type { NetworkContainer, NetworkService } from '../network/service.js';
import type { OciSpec } from '../runtime/oci-types.js';
import type { IdMappings } from '../util/id-mappings.js';
import type { HookContext, LifecycleHook, PrepareContext, ReleaseContext } from './hooks.js';
import type { ContainerRecord } from './record.js';

/** A container record as the network service sees it. */
export function networkContainer(record: Readonly<ContainerRecord>): NetworkContainer {
  const mode = record.hostConfig.NetworkMode || 'default';
  const networks = record.networks
    ?? (mode === 'default' || mode === 'bridge' ? { bridge: {} } : mode === 'host' || mode === 'none' ? { [mode]: {} } : {});
  return {
    id: record.id, name: record.name.replace(/^\//, ''), running: record.state.Running, hostname: record.config.Hostname ?? '',
    domainname: record.config.Domainname ?? '', env: record.config.Env ?? [], networkMode: mode === 'default' ? 'bridge' : mode,
    networks, links: record.hostConfig.Links ?? [], portBindings: record.hostConfig.PortBindings, publishAll: !!record.hostConfig.PublishAllPorts,
    exposedPorts: record.config.ExposedPorts, macAddress: (record.config as { MacAddress?: string }).MacAddress || undefined,
    dns: record.hostConfig.Dns ?? undefined,
  };
}

export class NetworkHook implements LifecycleHook {
  readonly name = 'network';

  constructor(
    private readonly networks: NetworkService,
    private readonly lookup: (reference: string) => Readonly<ContainerRecord> | undefined,
    /** --userns-remap's mappings: a remapped container's sandbox is owned by a user namespace it joins */
    private readonly idMappings?: IdMappings,
  ) {}

  async prepare({ record, spec }: PrepareContext): Promise<void> {
    const mode = record.hostConfig.NetworkMode || 'default';
    spec.network = { hostsEntries: [], hostGateway: this.networks.hostGatewayAddress() };
    if (record.config.NetworkDisabled || mode === 'host' || mode === 'none') return;
    if (mode.startsWith('container:')) {
      const target = mode.slice('container:'.length);
      const other = this.lookup(target);
      if (!other) throw notFound(`No such container: ${target}`);
      if (!other.state.Running || !other.state.Pid) throw conflict(`cannot join network of a non running container: ${other.id}`);
      spec.networkNamespacePath = `/proc/${other.state.Pid}/ns/net`;
      // The other's network namespace belongs to its user namespace: a remapped container joins that too.
      spec.edits.push((oci) => joinUserNamespace(oci, `/proc/${other.state.Pid}/ns/user`));
      return;
    }
    const remapped = this.idMappings && record.hostConfig.UsernsMode !== 'host';
    const container = { ...networkContainer(record), idMappings: remapped ? this.idMappings : undefined };
    const sandbox = await this.networks.attach(container);
    spec.networkNamespacePath = sandbox.path;
    const userNamespacePath = sandbox.userNamespacePath;
    if (userNamespacePath) spec.edits.push((oci) => joinUserNamespace(oci, userNamespacePath));
    spec.network = { ...spec.network, address: sandbox.address, hostsEntries: sandbox.hostsEntries, nameserver: sandbox.nameserver };
    if (sandbox.env.length > 0) {
      // Docker's order: the link variables before the container's own, which win.
      spec.edits.push((oci) => {
        const own = new Set(oci.process.env?.map((entry) => entry.split('=')[0]));
        oci.process.env = [...sandbox.env.filter((entry) => !own.has(entry.split('=')[0])), ...(oci.process.env ?? [])];
      });
    }
  }

  /** Ports and rules go at once; the sandbox right after (NetworkService.detach), which a failed start and a removal wait for. */
  async release({ record, reason }: ReleaseContext): Promise<void> {
    await this.networks.detach(record.id);
    if (reason === 'start-failed') await this.networks.tornDown(record.id);
  }

  async remove({ record }: HookContext): Promise<void> {
    await this.networks.tornDown(record.id);
  }
}

/** A container that would make a user namespace of its own joins `path` instead (its mappings stay in the spec for runc's chowns). */
export function joinUserNamespace(oci: OciSpec, path: string): void {
  const userNamespace = oci.linux?.namespaces?.find((namespace) => namespace.type === 'user' && !namespace.path);
  if (userNamespace) userNamespace.path = path;
}
