// User-namespace ID mappings (--userns-remap): the subordinate ranges of /etc/subuid and
// /etc/subgid turned into OCI uid/gid mappings, and IDs moved between the container's view and
// the host's, as moby's idtools does. Pure.

/** One OCI mapping: container IDs containerID..containerID+size-1 are host IDs hostID.. */
export interface IdMapping { containerID: number; hostID: number; size: number }
export interface IdMappings { uidMappings: IdMapping[]; gidMappings: IdMapping[] }
export interface SubordinateRange { start: number; count: number }

/** The ranges /etc/subuid (or subgid) text grants to any of `owners` (a name or a numeric ID), in file order. */
export function subordinateRanges(text: string, owners: readonly string[]): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [owner, start, count] = trimmed.split(':');
    if (!owners.includes(owner) || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '')) continue;
    ranges.push({ start: Number(start), count: Number(count) });
  }
  return ranges;
}

/** idtools.createIDMap: the ranges by start, laid end to end from container ID 0. */
export function mappingsFromRanges(ranges: readonly SubordinateRange[]): IdMapping[] {
  let containerID = 0;
  return [...ranges].sort((a, b) => a.start - b.start).map((range) => {
    const mapping = { containerID, hostID: range.start, size: range.count };
    containerID += range.count;
    return mapping;
  });
}

/** The host ID of a container ID, or undefined when no mapping covers it. */
export function toHostId(id: number, mappings: readonly IdMapping[]): number | undefined {
  const mapping = mappings.find((m) => id >= m.containerID && id < m.containerID + m.size);
  return mapping && mapping.hostID + (id - mapping.containerID);
}

/** The container ID of a host ID, or undefined when no mapping covers it. */
export function toContainerId(id: number, mappings: readonly IdMapping[]): number | undefined {
  const mapping = mappings.find((m) => id >= m.hostID && id < m.hostID + m.size);
  return mapping && mapping.containerID + (id - mapping.hostID);
}

/**
 * The owner a file unpacked into remapped storage gets (moby's archive with IDMapping): the
 * container's uid/gid moved to the host's. An ID no mapping covers is an error, as in moby.
 */
export function shiftOwner(owner: { uid: number; gid: number }, mappings: IdMappings): { uid: number; gid: number } {
  const uid = toHostId(owner.uid, mappings.uidMappings);
  const gid = toHostId(owner.gid, mappings.gidMappings);
  if (uid === undefined) throw new Error(`Container ID ${owner.uid} cannot be mapped to a host ID`);
  if (gid === undefined) throw new Error(`Container ID ${owner.gid} cannot be mapped to a host ID`);
  return { uid, gid };
}

/** The first free start of `count` IDs at or above `from` that no existing range overlaps (idtools.findNextRangeStart). */
export function nextFreeRangeStart(existing: readonly SubordinateRange[], count: number, from = 100000): number {
  let start = from;
  for (const range of [...existing].sort((a, b) => a.start - b.start)) {
    if (start + count > range.start && start < range.start + range.count) start = range.start + range.count;
  }
  return start;
}
