// Docker's legacy links (--link name:alias on the default bridge), pure: the environment
// variables the linking container gets (moby daemon/links) and its /etc/hosts lines.

export interface LinkedContainer {
  /** the alias the link gives (or the linked container's name) */
  alias: string;
  /** the linking container's name, without the slash */
  parentName: string;
  /** the linked container's name, without the slash */
  childName: string;
  childHostname: string;
  childIp: string;
  /** its exposed ports, "80/tcp" */
  ports: string[];
  /** its Config.Env */
  env: string[];
}

interface Port { port: number; proto: string }

/** "web" or "web:alias" (a name may carry its slash) → the container reference and the alias. */
export function parseLink(link: string): { name: string; alias: string } {
  const [rawName = '', rawAlias] = link.split(':');
  const name = rawName.replace(/^\//, '');
  const alias = (rawAlias ?? name).replace(/^.*\//, '');
  return { name, alias };
}

function sortedPorts(keys: readonly string[]): Port[] {
  const ports = keys.map((key) => {
    const [port = '0', proto = 'tcp'] = key.split('/');
    return { port: Number(port), proto: proto.toLowerCase() };
  });
  // nat.Sort as links.go uses it: by number, tcp first for the same number.
  return ports.sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : 0));
}

function nextContiguous(ports: Port[], value: number, index: number): number {
  if (index + 1 === ports.length) return index;
  for (let i = index + 1; i < ports.length; i++) {
    if (ports[i]!.port > value + 1) return i - 1;
    value++;
  }
  return ports.length - 1;
}

/** moby's Link.ToEnv, in its order. */
export function linkEnvironment(link: LinkedContainer): string[] {
  const alias = link.alias.toUpperCase().replace(/-/g, '_');
  const ip = link.childIp;
  const ports = sortedPorts(link.ports);
  const env: string[] = [];
  if (ports.length > 0) env.push(`${alias}_PORT=${ports[0]!.proto}://${ip}:${ports[0]!.port}`);
  for (let i = 0; i < ports.length;) {
    const p = ports[i]!;
    const j = nextContiguous(ports, p.port, i);
    const P = p.proto.toUpperCase();
    if (j > i + 1) {
      const q = ports[j]!;
      env.push(`${alias}_PORT_${p.port}_${P}_START=${p.proto}://${ip}:${p.port}`);
      env.push(`${alias}_PORT_${p.port}_${P}_ADDR=${ip}`);
      env.push(`${alias}_PORT_${p.port}_${P}_PROTO=${p.proto}`);
      env.push(`${alias}_PORT_${p.port}_${P}_PORT_START=${p.port}`);
      env.push(`${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_END=${q.proto}://${ip}:${q.port}`);
      env.push(`${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_PORT_END=${q.port}`);
    }
    for (let k = i; k <= j; k++) {
      const port = ports[k]!;
      const K = port.proto.toUpperCase();
      env.push(`${alias}_PORT_${port.port}_${K}=${port.proto}://${ip}:${port.port}`);
      env.push(`${alias}_PORT_${port.port}_${K}_ADDR=${ip}`);
      env.push(`${alias}_PORT_${port.port}_${K}_PORT=${port.port}`);
      env.push(`${alias}_PORT_${port.port}_${K}_PROTO=${port.proto}`);
    }
    i = j + 1;
  }
  env.push(`${alias}_NAME=/${link.parentName}/${link.alias}`);
  for (const entry of link.env) {
    const equals = entry.indexOf('=');
    if (equals < 0) continue;
    const name = entry.slice(0, equals);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${alias}_ENV_${name}=${entry.slice(equals + 1)}`);
  }
  return env;
}

/** The /etc/hosts line Docker writes for a link: the alias, the container's hostname, and its name when it differs from the alias. */
export function linkHostsEntry(link: Pick<LinkedContainer, 'alias' | 'childHostname' | 'childName' | 'childIp'>): string {
  const names = [link.alias, link.childHostname];
  if (link.alias !== link.childName) names.push(link.childName);
  return `${link.childIp}\t${names.join(' ')}`;
}
