// The --mount flag of run and create, parsed as the docker CLI's opts.MountOpt parses it.
import type { ApiMount } from '../../wire/types.js';
import { parseBytes } from '../../util/units.js';

/** docker's opts.MountOpt: a CSV of key=value fields, volume by default. */
export function parseMountFlag(value: string): ApiMount {
  const mount: ApiMount = {};
  const bindOptions = () => (mount.BindOptions ??= {});
  const volumeOptions = () => (mount.VolumeOptions ??= {});
  const tmpfsOptions = () => (mount.TmpfsOptions ??= {});
  const parseBool = (key: string, text: string | undefined) => {
    if (text === undefined) return true;
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
    throw new Error(`invalid value for ${key}: ${text}`);
  };
  const keyValue = (text: string): [string, string] => {
    const equals = text.indexOf('=');
    return equals === -1 ? [text, ''] : [text.slice(0, equals), text.slice(equals + 1)];
  };
  for (const field of parseCsvRecord(value)) {
    const equals = field.indexOf('=');
    const key = (equals === -1 ? field : field.slice(0, equals)).toLowerCase();
    const text = equals === -1 ? undefined : field.slice(equals + 1);
    if (text === undefined && !['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive'].includes(key)) {
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type': mount.Type = text; break;
      case 'source': case 'src': mount.Source = text; break;
      case 'target': case 'dst': case 'destination': mount.Target = text; break;
      case 'readonly': case 'ro': mount.ReadOnly = parseBool(key, text); break;
      case 'consistency': mount.Consistency = text; break;
      case 'bind-propagation': bindOptions().Propagation = text; break;
      case 'bind-nonrecursive': bindOptions().NonRecursive = parseBool(key, text); break;
      case 'volume-nocopy': volumeOptions().NoCopy = parseBool(key, text); break;
      case 'volume-label': {
        const [name, labelValue] = keyValue(text ?? '');
        (volumeOptions().Labels ??= {})[name] = labelValue;
        break;
      }
      case 'volume-driver': (volumeOptions().DriverConfig ??= {}).Name = text; break;
      case 'volume-opt': {
        const [name, optionValue] = keyValue(text ?? '');
        const driver = (volumeOptions().DriverConfig ??= {});
        (driver.Options ??= {})[name] = optionValue;
        break;
      }
      case 'tmpfs-size': tmpfsOptions().SizeBytes = parseBytes(text ?? ''); break;
      case 'tmpfs-mode': {
        const mode = Number.parseInt(text ?? '', 8);
        if (!/^[0-7]+$/.test(text ?? '')) throw new Error(`invalid value for ${key}: ${text}`);
        tmpfsOptions().Mode = mode;
        break;
      }
      default: throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  mount.Type ??= 'volume';
  if (!mount.Target) throw new Error('target is required');
  if (mount.VolumeOptions && mount.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  if (mount.BindOptions && mount.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  if (mount.TmpfsOptions && mount.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  return mount;
}

/** Go's encoding/csv for one record: fields split on commas, double quotes group. */
function parseCsvRecord(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (quoted) {
      if (char === '"' && line[index + 1] === '"') { field += '"'; index++; }
      else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && field === '') quoted = true;
    else if (char === ',') { fields.push(field); field = ''; }
    else field += char;
  }
  fields.push(field);
  return fields;
}
