// Leases on layers: a pull, load or import holds one on the layers it uses or makes, from
// before it looks at them until its image record exists, so that a concurrent rmi, image
// prune or container removal does not remove them under it (containerd's leases, in memory:
// a crash ends the operation, and the start-up clean-up handles what it left).
export interface Lease {
  /** Adds a layer to the lease (a layer the holder has just made or found). */
  add(chainId: string): void;
  /** Ends the lease; idempotent. */
  release(): void;
}

export class LayerLeases {
  private readonly counts = new Map<string, number>();

  acquire(chainIds: Iterable<string> = []): Lease {
    const held = new Set<string>();
    let released = false;
    const add = (chainId: string) => {
      if (released || held.has(chainId)) return;
      held.add(chainId);
      this.counts.set(chainId, (this.counts.get(chainId) ?? 0) + 1);
    };
    for (const chainId of chainIds) add(chainId);
    return {
      add,
      release: () => {
        if (released) return;
        released = true;
        for (const chainId of held) {
          const count = (this.counts.get(chainId) ?? 1) - 1;
          if (count > 0) this.counts.set(chainId, count);
          else this.counts.delete(chainId);
        }
      },
    };
  }

  isLeased(chainId: string): boolean {
    return this.counts.has(chainId);
  }
}
