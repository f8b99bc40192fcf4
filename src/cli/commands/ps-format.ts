// Pure formatting of container list rows the way docker's formatter.ContainerContext does it:
// IDs, quoted/truncated commands, "2 minutes ago", ports, names, sizes; plus the status text
// ("Up 3 seconds", "Exited (0) 2 seconds ago") that the daemon puts into the list.

import type { ContainerState, ContainerSummary } from '../../wire/types.js';
import { displaySize, ellipsis, formatGoTime, goQuote, truncateId } from '../output.js';
import { humanDuration } from '../../util/units.js';

export const DEFAULT_PS_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
};

/**
 * The daemon's State.String() (moby container/state.go) that ends up in ps' STATUS column:
 * "Up 3 seconds", "Up 2 minutes (Paused)", "Restarting (1) 5 seconds ago", "Exited (0) 2 seconds ago",
 * "Created", "Removal In Progress", "Dead".
 */

type Port = ContainerSummary['Ports'][number];

function comparePorts(a: Port, b: Port): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  const ipA = a.IP ?? '';
  const ipB = b.IP ?? '';
  if (ipA !== ipB) return ipA < ipB ? -1 : 1;
  const publicA = a.PublicPort ?? 0;
  const publicB = b.PublicPort ?? 0;
  if (publicA !== publicB) return publicA - publicB;
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

function joinHostPort(host: string, port: string | number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function formGroup(key: string, first: number, last: number): string {
  const parts = key.split('/');
  let ip = '';
  let type = parts[0]!;
  if (parts.length > 1) {
    ip = parts.slice(0, -1).join('/');
    type = parts[parts.length - 1]!;
  }
  let group = String(first);
  if (first !== last) group = `${group}-${last}`;
  if (ip !== '') group = `${joinHostPort(ip, group)}->${group}`;
  return `${group}/${type}`;
}

/** formatter.DisplayablePorts: "0.0.0.0:8080->80/tcp, 443/tcp", consecutive ports grouped. */
export function displayablePorts(ports: Port[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const port of [...ports].sort(comparePorts)) {
    const current = port.PrivatePort;
    let key = port.Type;
    if (port.IP) {
      if (port.PublicPort !== current) {
        hostMappings.push(`${joinHostPort(port.IP, port.PublicPort ?? 0)}->${port.PrivatePort}/${port.Type}`);
        continue;
      }
      key = `${port.IP}/${port.Type}`;
    }
    const group = groups.get(key);
    if (!group) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === group.last + 1) {
      group.last = current;
      continue;
    }
    result.push(formGroup(key, group.first, group.last));
    groups.set(key, { first: current, last: current });
  }
  for (const [key, group] of groups) result.push(formGroup(key, group.first, group.last));
  return [...result, ...hostMappings].join(', ');
}

/** The image column: an ID-like image shortened to 12 characters, a digest reference without its digest. */
function displayImage(container: ContainerSummary, trunc: boolean): string {
  if (container.Image === '') return '<no image>';
  if (!trunc) return container.Image;
  if (container.ImageID && truncateId(container.ImageID) === truncateId(container.Image)) return truncateId(container.Image);
  const at = container.Image.indexOf('@');
  return at === -1 ? container.Image : container.Image.slice(0, at);
}

function displayNames(names: string[], trunc: boolean): string {
  const stripped = names.map((name) => name.replace(/^\//, ''));
  if (trunc) return stripped.find((name) => !name.includes('/')) ?? '';
  return stripped.join(',');
}

/** One row of `ps` as the template sees it (the fields of docker's ContainerContext). */
export interface ContainerRow {
  Command: string;
  CreatedAt: string;
  ID: string;
  Image: string;
  Labels: string;
  LocalVolumes: string;
  Mounts: string;
  Names: string;
  Networks: string;
  Ports: string;
  RunningFor: string;
  Size: string;
  State: string;
  Status: string;
  Label: (name: string) => string;
}

export function containerRow(container: ContainerSummary, options: { trunc: boolean; now?: number }): ContainerRow {
  const { trunc } = options;
  const now = options.now ?? Date.now();
  const command = trunc ? ellipsis(container.Command, 20) : container.Command;
  const labels = container.Labels ?? {};
  const sizeRw = displaySize(container.SizeRw ?? 0);
  const size = (container.SizeRootFs ?? 0) > 0 ? `${sizeRw} (virtual ${displaySize(container.SizeRootFs ?? 0)})` : sizeRw;
  const mounts = (container.Mounts ?? []).map((mount) => {
    const name = mount.Name || mount.Source;
    return trunc ? ellipsis(name, 15) : name;
  });
  const row: ContainerRow = {
    Command: goQuote(command),
    CreatedAt: formatGoTime(container.Created),
    ID: trunc ? truncateId(container.Id) : container.Id,
    Image: displayImage(container, trunc),
    Labels: Object.entries(labels)
      .map(([key, value]) => `${key}=${value}`)
      .sort()
      .join(','),
    LocalVolumes: String((container.Mounts ?? []).filter((mount) => mount.Driver === 'local').length),
    Mounts: mounts.join(','),
    Names: displayNames(container.Names ?? [], trunc),
    Networks: Object.keys(container.NetworkSettings?.Networks ?? {}).join(','),
    Ports: displayablePorts(container.Ports ?? []),
    RunningFor: `${humanDuration(now - container.Created * 1000)} ago`,
    Size: size,
    State: container.State,
    Status: container.Status,
    Label: (name: string) => labels[name] ?? '',
  };
  return row;
}
