// Docker's JSON progress messages (moby pkg/jsonmessage): the progressDetail shape and its
// text form, which the daemon puts in the `progress` field and terminals draw as bars.
// The messages as the daemon words them (moby pkg/progress + streamformatter): a status line
// of its own ("Digest: ..."), a per-id state ("Pulling fs layer", with an empty progressDetail
// so that clients give the id a line of its own), and byte counts ("Downloading" with
// progressDetail {current,total} and the rendered `progress` bar). ByteProgress reports a
// stream's bytes the way Docker's progressreader does: after every 1% (at most 512 KiB) of
// the total, at most every 100 ms, and always at the end.
import { Transform } from 'node:stream';
import { humanSize } from '../util/units.js';

/** jsonmessage.JSONProgress: the progressDetail of a message. */
export interface ProgressDetail {
  current?: number;
  total?: number;
  /** Unix seconds when the transfer started (gives the time left). */
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

/** Docker's width when it cannot ask the terminal (and the daemon's, which has none). */
export const UNKNOWN_WIDTH = 200;

/** Go's time.Duration.String() for whole seconds: "0s", "45s", "2m5s", "1h0m3s". */
function goDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const hours = Math.trunc(seconds / 3600);
  const minutes = Math.trunc((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return `${hours}h${minutes}m${rest}s`;
  if (minutes > 0) return `${minutes}m${rest}s`;
  return `${rest}s`;
}

/**
 * JSONProgress.String(): "[=====>      ]  1.2MB/3.4MB" (the bar only when width > 110),
 * "" when there is nothing to show. `now` is in milliseconds.
 */
export function formatProgress(detail: ProgressDetail, width: number = UNKNOWN_WIDTH, now: number = Date.now()): string {
  const current = detail.current ?? 0;
  const total = detail.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) {
    return detail.units ? `${current} ${detail.units}` : humanSize(current).padStart(8);
  }
  const percentage = Math.min(Math.trunc(Math.trunc((current / total) * 100) / 2), 50);
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(Math.max(percentage, 0))}>${' '.repeat(Math.max(50 - percentage, 0))}] `;
  let numbers = '';
  if (detail.hidecounts) {
    numbers = '';
  } else if (!detail.units) {
    numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  } else {
    numbers = current > total ? `${current} ${detail.units}` : `${current}/${total} ${detail.units}`;
  }
  let timeLeft = '';
  const start = detail.start ?? 0;
  if (current > 0 && start > 0 && percentage < 50 && width > 50) {
    const elapsed = now / 1000 - start;
    timeLeft = ` ${goDuration(Math.trunc(((total - current) * elapsed) / current))}`;
  }
  return bar + numbers + timeLeft;
}

/** One message of Docker's JSON progress stream (jsonmessage.JSONMessage), keys in Docker's order. */
export interface ProgressMessage {
  stream?: string;
  status?: string;
  progressDetail?: ProgressDetail;
  progress?: string;
  id?: string;
  errorDetail?: { message: string };
  error?: string;
  aux?: { Tag: string; Digest: string; Size: number };
}

export type Progress = (message: ProgressMessage) => void;

/** progress.Message: a line of its own, outside the per-id block (unless `id` is given). */
export function statusMessage(status: string, id?: string): ProgressMessage {
  return id === undefined ? { status } : { status, id };
}

/** progress.Update: the state of one id. */
export function updateMessage(id: string, status: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

/** A byte count of one id; zero fields are left out, as Go's omitempty does. */
export function bytesMessage(id: string, status: string, current: number, total: number): ProgressMessage {
  const detail: ProgressDetail = {};
  if (current !== 0) detail.current = current;
  if (total !== 0) detail.total = total;
  const bar = formatProgress(detail);
  return bar === '' ? { status, progressDetail: detail, id } : { status, progressDetail: detail, progress: bar, id };
}

const UPDATE_EVERY_BYTES = 512 * 1024;

const MIN_INTERVAL_MS = 100;

/** Counts the bytes of one transfer and reports them, rate-limited (progressreader.Reader). */
export class ByteProgress {
  private current = 0;
  private lastReported = 0;
  private lastSent = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly progress: Progress, private readonly id: string, private readonly action: string,
    private readonly total: number, private readonly now: () => number = Date.now,
  ) {}

  get bytes(): number {
    return this.current;
  }

  add(bytes: number): void {
    this.current += bytes;
    const step = this.total > 0 ? Math.min(UPDATE_EVERY_BYTES, Math.trunc(this.total * 0.01)) : UPDATE_EVERY_BYTES;
    if (this.current - this.lastReported > step || this.current === this.total) {
      this.lastReported = this.current;
      this.report(false);
    }
  }

  /** Reports the count now (the end of a stream that was shorter than announced). */
  flush(): void {
    if (this.lastReported !== this.current) {
      this.lastReported = this.current;
      this.report(true);
    }
  }

  /** A pass-through stream that counts what flows through it. */
  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.add(chunk.length);
        done(null, chunk);
      },
    });
  }

  private report(last: boolean): void {
    const time = this.now();
    if (!last && this.current !== this.total && time - this.lastSent < MIN_INTERVAL_MS) return;
    this.lastSent = time;
    this.progress(bytesMessage(this.id, this.action, this.current, this.total));
  }
}
