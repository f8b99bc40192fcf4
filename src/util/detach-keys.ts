// Detach keys (docker's --detach-keys, "ctrl-p,ctrl-q" by default): parsing the spec into
// bytes, and a scanner that finds the sequence in an input stream. Both ends use it: the
// CLI to leave its session, berthd to end an attach or exec session for any client.

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** term.ToBytes: "ctrl-p,ctrl-q" or single characters, comma separated. */
export function parseDetachKeys(keys: string): number[] {
  const bytes: number[] = [];
  for (const key of keys.split(',')) {
    const lower = key.toLowerCase();
    if (lower.length > 5 && lower.startsWith('ctrl-')) {
      if (key.length !== 6) throw new Error(`Unknown character: '${key}'`);
      const ch = lower[5]!;
      if (ch >= 'a' && ch <= 'z') bytes.push(ch.charCodeAt(0) - 96);
      else if (ch === '@') bytes.push(0);
      else if (ch === '[') bytes.push(27);
      else if (ch === '\\') bytes.push(28);
      else if (ch === ']') bytes.push(29);
      else if (ch === '^') bytes.push(30);
      else if (ch === '_') bytes.push(31);
      else throw new Error(`Unknown character: '${key}'`);
    } else if (key.length === 1) {
      bytes.push(key.charCodeAt(0));
    } else {
      throw new Error(`Unknown character: '${key}'`);
    }
  }
  return bytes;
}

/** Watches input for the detach sequence; holds back a partial match until it is decided. */
export class EscapeProxy {
  private matched = 0;
  constructor(private readonly keys: number[]) {}

  /** Returns the bytes to forward, and whether the sequence is complete (detach). */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched > 0) {
        out.push(...this.keys.slice(0, this.matched));
        this.matched = 0;
      }
      if (byte === this.keys[0]) {
        this.matched = 1;
        if (this.keys.length === 1) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
