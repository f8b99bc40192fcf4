// berthd's memory settings, applied before any other module of the daemon is evaluated (main.ts
// imports this first), and the memory line BERTH_TRACE=1 logs. docs/performance.md, "Idle memory".
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';

// V8's young generation starts at 1 MB per semi-space and grows to 16 MB under allocation
// (start-up, an image import, 300 creates): 32 MB of memory kept for a daemon that is idle
// most of its life. Kept at its first size, a scavenge runs more often and each is smaller.
// This flag is read at each growth, so setting it here (not on node's command line) holds.
setFlagsFromString('--semi-space-growth-factor=1');

/** One line: RSS split as the kernel counts it, and V8's heap by space, in MB. */
export function memoryLine(): string {
  const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch { /* not Linux */ }
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  const usage = process.memoryUsage();
  const spaces = getHeapSpaceStatistics().filter((space) => space.physical_space_size > 0)
    .map((space) => `${space.space_name}=${mb(space.physical_space_size)}`).join(' ');
  return `memory rss=${mb(usage.rss)} anon=${mb(kb('RssAnon'))} file=${mb(kb('RssFile'))} heap=${mb(usage.heapTotal)} external=${mb(usage.external)} arrayBuffers=${mb(usage.arrayBuffers)} ${spaces}`;
}

let fullGc: (() => void) | undefined;

/**
 * After a burst of requests (300 creates, an image import), V8's old space and the allocator
 * keep what the burst used until some later collection: tens of MB for a daemon that then sits
 * idle. Once the API has been quiet for `quietMs` after such work, one full (compacting)
 * collection gives it back. It costs the event loop a few ms, only when nothing is asked of it.
 */
export class IdleCollector {
  private timer: NodeJS.Timeout | undefined;
  /** V8's heap plus what it holds outside (buffers) after the last collection. */
  private heldAfterLast = 0;

  /**
   * `minGrowth`: a collection only when the heap grew by this much since the last. A full
   * collection also drops the optimized code that embeds objects it frees (V8 deoptimizes it:
   * "weak objects"), so the next burst runs unoptimized while TurboFan recompiles: after a
   * round of 2,000 inspects from 200 clients (~5 MB of growth) and 4 s of quiet, the next
   * round's p99 went from ~20-100 ms to 200-330 ms with ~80 functions recompiled. Bursts that
   * size keep their code; an image import or 300 creates (12-24 MB) are still given back.
   */
  constructor(private readonly quietMs = 3000, private readonly minGrowth = 8 * 1048576) {}

  /** A request ended: (re)starts the wait. */
  readonly settled = (): void => {
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.collect(), this.quietMs).unref();
  };

  private collect(): void {
    this.timer = undefined;
    if (held() - this.heldAfterLast < this.minGrowth) return;
    if (!fullGc) {
      // gc() is only given to contexts made after the flag is set.
      setFlagsFromString('--expose-gc');
      fullGc = runInNewContext('gc') as () => void;
    }
    fullGc();
    this.heldAfterLast = held();
  }
}

function held(): number {
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}
