// Docker's JSON progress messages (moby pkg/jsonmessage): the progressDetail shape and its
// text form, which the daemon puts in the `progress` field and terminals draw as bars.
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
