// The /etc files as a lifecycle hook: /etc/hostname, /etc/hosts and /etc/resolv.conf are
// written into the container's directory before each start and given to the spec, which
// bind-mounts them over the image's own. They stay between runs (inspect shows their paths).
// The network hook, registered before this one, contributes the container's address, its link
// lines and, on user networks, the embedded DNS server (spec.network).
import { readFile, writeFile } from 'node:fs/promises';
import { etcFilePaths, hostsFile, readHostResolvConf, resolvConf } from './etc-files.js';
import type { LifecycleHook, PrepareContext } from './hooks.js';

export class EtcFilesHook implements LifecycleHook {
  readonly name = 'etc-files';

  async prepare({ record, paths, spec }: PrepareContext): Promise<void> {
    const hostNetwork = record.hostConfig.NetworkMode === 'host';
    const network = spec.network;
    const files = etcFilePaths(paths.directory);
    const hostname = record.config.Hostname ?? '';
    const names = record.config.Domainname ? `${hostname}.${record.config.Domainname} ${hostname}` : hostname;
    const extraHosts = (record.hostConfig.ExtraHosts ?? []).map((entry) => entry.replace(/:host-gateway$/, `:${network?.hostGateway ?? 'host-gateway'}`));
    await writeFile(files.hostname, `${hostname}\n`);
    await writeFile(files.hosts, hostNetwork ? await readFile('/etc/hosts', 'utf8') : hostsFile(names, network?.address, [...extraHosts], network?.hostsEntries ?? []));
    await writeFile(files.resolvConf, resolvConf(await readHostResolvConf(), {
      // On a user network the embedded DNS server answers (and forwards to --dns or the host's resolvers).
      dns: network?.nameserver ? [network.nameserver] : record.hostConfig.Dns ?? [],
      search: record.hostConfig.DnsSearch ?? [], dnsOptions: record.hostConfig.DnsOptions ?? [], hostNetwork,
    }));
    spec.etcFiles = files;
  }
}
