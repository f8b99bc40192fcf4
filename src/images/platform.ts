// The `platform` of a pull ("linux/arm64", "arm64", "linux/arm/v7"), parsed and normalised as
// containerd's platforms.Parse does it for Docker: os and architecture aliases (x86_64 is
// amd64, aarch64 is arm64, armhf is arm/v7), arm's default variant v7, arm64's v8 dropped.
// Pure functions.
import type { Platform } from './manifest.js';

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd',
  'openbsd', 'plan9', 'solaris', 'windows', 'zos', 'wasip1',
]);
const COMPONENT = /^[A-Za-z0-9_-]+$/;

export class PlatformError extends Error {}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** containerd's normalizeArch. */
function normalizeArch(architecture: string, variant: string): { architecture: string; variant: string } {
  const arch = architecture.toLowerCase();
  const lowerVariant = variant.toLowerCase();
  switch (arch) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: lowerVariant === 'v1' ? '' : lowerVariant };
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', variant: lowerVariant === '8' || lowerVariant === 'v8' ? '' : lowerVariant };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm': {
      if (lowerVariant === '' || lowerVariant === '7') return { architecture: 'arm', variant: 'v7' };
      if (/^[5-8]$/.test(lowerVariant)) return { architecture: 'arm', variant: `v${lowerVariant}` };
      return { architecture: 'arm', variant: lowerVariant };
    }
    default:
      return { architecture: arch, variant: lowerVariant };
  }
}

function platformOf(os: string, architecture: string, variant: string): Platform {
  const normalized = normalizeArch(architecture, variant);
  const platform: Platform = { os: normalizeOs(os), architecture: normalized.architecture };
  if (normalized.variant !== '') platform.variant = normalized.variant;
  return platform;
}

/**
 * Parses a platform specifier; `host` fills what it leaves out (a lone os takes the host's
 * architecture, a lone architecture the host's os). Throws PlatformError in Docker's words.
 */
export function parsePlatform(specifier: string, host: Platform): Platform {
  const parts = specifier.split('/');
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw new PlatformError(`"${part}" is an invalid component of "${specifier}": platform specifier component must match "${COMPONENT.source}": invalid argument`);
    }
  }
  switch (parts.length) {
    case 1: {
      const only = parts[0]!;
      if (KNOWN_OS.has(normalizeOs(only))) return platformOf(only, host.architecture, host.variant ?? '');
      return platformOf(host.os, only, '');
    }
    case 2:
      return platformOf(parts[0]!, parts[1]!, '');
    case 3:
      return platformOf(parts[0]!, parts[1]!, parts[2]!);
    default:
      throw new PlatformError(`"${specifier}": cannot parse platform specifier: invalid argument`);
  }
}
