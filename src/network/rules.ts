// iptables rules, pure: the daemon's whole rule set is generated from its networks, published
// ports and links, and loaded in one `iptables-restore --noflush` that declares (and so
// flushes) the daemon's own chains. Chain names carry a per-daemon prefix (from its default
// bridge's name), so two berthd on one host, or dockerd, never touch each other's chains.
import type { PortProtocol } from './ports.js';

export interface RuleNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  masquerade: boolean;
  icc: boolean;
}

export interface RulePort {
  bridge: string;
  proto: PortProtocol;
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** A --link with --icc=false: the parent may reach the child's exposed port, and back. */
export interface RuleLink {
  bridge: string;
  parentIp: string;
  childIp: string;
  proto: PortProtocol;
  port: number;
}

export interface RuleSet {
  networks: RuleNetwork[];
  ports: RulePort[];
  links: RuleLink[];
}

export interface ChainNames {
  /** nat: DNAT of published ports; filter: ACCEPT of published and linked ports */
  main: string;
  /** filter: what FORWARD jumps to */
  forward: string;
  isolation1: string;
  isolation2: string;
  /** nat: what POSTROUTING jumps to */
  postrouting: string;
}

/** iptables allows 28 characters per chain name; a bridge name has 15 at most. */
export function chainNames(bridge: string): ChainNames {
  const main = `BERTH-${bridge}`;
  return { main, forward: `${main}-FWD`, isolation1: `${main}-ISO1`, isolation2: `${main}-ISO2`, postrouting: `${main}-POST` };
}

/** The jumps from the built-in chains into ours: [table, chain, rule without -A/-I]. */
export function jumpRules(chains: ChainNames): Array<[table: 'nat' | 'filter', chain: string, rule: string]> {
  return [
    ['filter', 'FORWARD', `-j ${chains.forward}`],
    ['nat', 'PREROUTING', `-m addrtype --dst-type LOCAL -j ${chains.main}`],
    ['nat', 'OUTPUT', `-m addrtype --dst-type LOCAL -j ${chains.main}`],
    ['nat', 'POSTROUTING', `-j ${chains.postrouting}`],
  ];
}

/** The text for `iptables-restore --noflush`: our chains declared (flushed) and refilled; `missingJumps` inserted first in their built-in chains. */
export function restoreText(chains: ChainNames, rules: RuleSet, missingJumps: Array<[string, string, string]> = []): string {
  const nat: string[] = [`:${chains.main} - [0:0]`, `:${chains.postrouting} - [0:0]`];
  const filter: string[] = [`:${chains.main} - [0:0]`, `:${chains.forward} - [0:0]`, `:${chains.isolation1} - [0:0]`, `:${chains.isolation2} - [0:0]`];
  for (const [table, chain, rule] of missingJumps) (table === 'nat' ? nat : filter).push(`-I ${chain} 1 ${rule}`);

  for (const port of rules.ports) {
    const destination = port.hostIp ? `-d ${port.hostIp}/32 ` : '';
    nat.push(`-A ${chains.main} ${destination}-p ${port.proto} -m ${port.proto} --dport ${port.hostPort} -j DNAT --to-destination ${port.containerIp}:${port.containerPort}`);
    // A container reaching its own published port through the host (hairpin).
    nat.push(`-A ${chains.postrouting} -s ${port.containerIp}/32 -d ${port.containerIp}/32 -p ${port.proto} -m ${port.proto} --dport ${port.containerPort} -j MASQUERADE`);
    filter.push(`-A ${chains.main} -d ${port.containerIp}/32 ! -i ${port.bridge} -o ${port.bridge} -p ${port.proto} -m ${port.proto} --dport ${port.containerPort} -j ACCEPT`);
  }
  for (const link of rules.links) {
    filter.push(`-A ${chains.main} -s ${link.parentIp}/32 -d ${link.childIp}/32 -i ${link.bridge} -o ${link.bridge} -p ${link.proto} -m ${link.proto} --dport ${link.port} -j ACCEPT`);
    filter.push(`-A ${chains.main} -s ${link.childIp}/32 -d ${link.parentIp}/32 -i ${link.bridge} -o ${link.bridge} -p ${link.proto} -m ${link.proto} --sport ${link.port} -j ACCEPT`);
  }

  filter.push(`-A ${chains.forward} -j ${chains.isolation1}`);
  for (const network of rules.networks) {
    const { bridge, subnet } = network;
    if (!network.internal) {
      if (network.masquerade) nat.push(`-A ${chains.postrouting} -s ${subnet} ! -o ${bridge} -j MASQUERADE`);
      // Published ports reached on 127.0.0.1: DNAT keeps the loopback source, which the
      // container could not answer; route_localnet lets it leave, this rewrites it.
      nat.push(`-A ${chains.postrouting} -s 127.0.0.0/8 -o ${bridge} -j MASQUERADE`);
    }
    filter.push(`-A ${chains.forward} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    filter.push(`-A ${chains.forward} -o ${bridge} -j ${chains.main}`);
    if (!network.internal) filter.push(`-A ${chains.forward} -i ${bridge} ! -o ${bridge} -j ACCEPT`);
    filter.push(`-A ${chains.forward} -i ${bridge} -o ${bridge} -j ${network.icc ? 'ACCEPT' : 'DROP'}`);
    if (network.internal) {
      filter.push(`-A ${chains.isolation1} ! -s ${subnet} -o ${bridge} -j DROP`);
      filter.push(`-A ${chains.isolation1} -i ${bridge} ! -d ${subnet} -j DROP`);
    }
    filter.push(`-A ${chains.isolation1} -i ${bridge} ! -o ${bridge} -j ${chains.isolation2}`);
    filter.push(`-A ${chains.isolation2} -o ${bridge} -j DROP`);
  }
  return ['*nat', ...nat, 'COMMIT', '*filter', ...filter, 'COMMIT', ''].join('\n');
}

/** `iptables-save` output → which of the jumps are missing. */
export function missingJumps(saved: string, chains: ChainNames): Array<[string, string, string]> {
  const present = new Set<string>();
  let table = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith('-A ')) present.add(`${table} ${line.slice(3).trim()}`);
  }
  return jumpRules(chains).filter(([tableName, chain, rule]) => !present.has(`${tableName} ${chain} ${rule}`));
}

/** The text that removes every rule of ours: jumps deleted, chains flushed and deleted (for a daemon's own clean-up and tests). */
export function removalText(saved: string, chains: ChainNames): string {
  const ours = new Set(Object.values(chains));
  const tables = new Map<string, string[]>();
  let table = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const match = /^-A (\S+) .*-j (\S+)/.exec(line);
    if (match && !ours.has(match[1]!) && ours.has(match[2]!)) tables.set(table, [...(tables.get(table) ?? []), `-D ${line.slice(3)}`]);
    const declared = /^:(\S+) /.exec(line);
    if (declared && ours.has(declared[1]!)) tables.set(table, [...(tables.get(table) ?? []), `-F ${declared[1]}`]);
  }
  for (const [name, lines] of tables) {
    for (const line of [...lines]) if (line.startsWith('-F ')) lines.push(`-X ${line.slice(3)}`);
    tables.set(name, lines);
  }
  return [...tables].map(([name, lines]) => [`*${name}`, ...lines, 'COMMIT'].join('\n')).join('\n') + '\n';
}
