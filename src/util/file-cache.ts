// Files read again and again that rarely change (a container's /etc/passwd and /etc/group, its
// bundle's config.json, read by every exec): kept parsed, and valid while the file's identity
// (inode, size, modification and change times, to the nanosecond) is the same. One lstat
// replaces open, read and close, and the parse. Symbolic links are not followed: a caller that
// must not leave a root (a container's files) gets undefined for them, as for a missing file.
import { lstat, readFile } from 'node:fs/promises';

interface Entry<T> { key: string; value: T }

export class FileCache<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(private readonly parse: (text: string) => T, private readonly limit = 4096) {}

  /** The parsed file, or undefined when it is missing, unreadable or a symbolic link. */
  async read(path: string): Promise<T | undefined> {
    let key: string;
    try {
      const info = await lstat(path, { bigint: true });
      if (info.isSymbolicLink()) return undefined;
      key = `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
    } catch {
      this.entries.delete(path);
      return undefined;
    }
    const cached = this.entries.get(path);
    if (cached?.key === key) return cached.value;
    let value: T;
    try {
      value = this.parse(await readFile(path, 'utf8'));
    } catch {
      return undefined;
    }
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(path, { key, value });
    return value;
  }

  /** Drops the entries whose path contains `text` (a removed container's ID). */
  forgetPathsWith(text: string): void {
    for (const path of this.entries.keys()) if (path.includes(text)) this.entries.delete(path);
  }
}
