// The /etc files as a lifecycle hook: /etc/hostname, /etc/hosts and /etc/resolv.conf are
// written into the container's directory before each start and given to the spec, which
// bind-mounts them over the image's own. They stay between runs (inspect shows their paths).
import { readFile, writeFile } from 'node:fs/promises';
import { etcFilePaths, hostsFile, readHostResolvConf, resolvConf } from './etc-files.js';
import type { LifecycleHook, PrepareContext } from './hooks.js';

export class EtcFilesHook implements LifecycleHook {
  readonly name = 'etc-files';

  async prepare({ record, paths, spec }: PrepareContext): Promise<void> {
    const hostNetwork = record.hostConfig.NetworkMode === 'host';
    const files = etcFilePaths(paths.directory);
    await writeFile(files.hostname, `${record.config.Hostname}\n`);
    await writeFile(files.hosts, hostNetwork ? await readFile('/etc/hosts', 'utf8') : hostsFile(record.config.Hostname ?? '', undefined, record.hostConfig.ExtraHosts ?? []));
    await writeFile(files.resolvConf, resolvConf(await readHostResolvConf(), {
      dns: record.hostConfig.Dns ?? [], search: record.hostConfig.DnsSearch ?? [], dnsOptions: record.hostConfig.DnsOptions ?? [], hostNetwork,
    }));
    spec.etcFiles = files;
  }
}
