// Network records, networks/<id>.json under the data root, each written atomically. A record
// holds what Docker's inspect shows plus berth's own fields: the bridge interface and the
// active endpoints (the IPAM's allocations: an address is handed out by writing it here
// before the interface that uses it exists, and freed after that interface is gone).
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import type { PortMapping } from './ports.js';
import type { RuleLink } from './rules.js';

export interface IpamConfig {
  Subnet: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface EndpointRecord {
  EndpointID: string;
  containerId: string;
  /** without the slash */
  containerName: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  /** eth0, eth1, ... in the container */
  ifname: string;
  hostVeth: string;
  aliases: string[];
  /** "name:alias" */
  links: string[];
  dnsNames: string[];
  /** published host ports (on the container's first network) */
  ports: PortMapping[];
  /** --icc=false accept rules for its --links */
  linkRules: RuleLink[];
  /** its container's --dns, on a user network: where the embedded DNS server forwards its queries */
  upstreams?: string[];
}

export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** berth: the bridge interface (bridge driver only) */
  bridge?: string;
  /** berth: the endpoints of running containers, by container ID */
  endpoints: Record<string, EndpointRecord>;
}

/** The default bridge (network "bridge"), where links, not DNS, name containers. */
export function isDefaultBridge(network: NetworkRecord): boolean {
  return network.Name === 'bridge' && network.Options['com.docker.network.bridge.default_bridge'] === 'true';
}

export class NetworkRecordStore {
  /**
   * Counts saves and removals (as each begins and once it is done): what is derived from the
   * networks and kept elsewhere (a container's serialised inspect) is stale once it moved.
   */
  generation = 0;

  constructor(readonly root: string) {}

  async loadAll(): Promise<NetworkRecord[]> {
    await mkdir(this.root, { recursive: true });
    const records: NetworkRecord[] = [];
    for (const file of await readdir(this.root)) {
      if (!file.endsWith('.json') || file.startsWith('.')) continue;
      try {
        records.push(JSON.parse(await readFile(join(this.root, file), 'utf8')) as NetworkRecord);
      } catch {
        // unreadable: an atomic write never leaves one, so it is not ours
      }
    }
    return records;
  }

  save(record: NetworkRecord): Promise<void> {
    this.generation++;
    return writeJsonAtomic(join(this.root, `${record.Id}.json`), record).finally(() => { this.generation++; });
  }

  async remove(id: string): Promise<void> {
    this.generation++;
    await rm(join(this.root, `${id}.json`), { force: true }).finally(() => { this.generation++; });
  }
}
