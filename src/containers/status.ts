// The human-readable state of a container ("Up 3 seconds", "Exited (0) 2 minutes ago"), as
// the daemon reports it in a container list's Status field. Pure.
import type { ContainerState } from '../wire/types.js';
import { humanDuration } from '../util/units.js';
import { ZERO_TIME } from '../wire/types.js';

function parseTime(text: string): number {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? 0 : ms;
}

export function containerStatusText(state: ContainerState, now: number = Date.now()): string {
  if (state.Running) {
    if (state.Paused) return `Up ${humanDuration(now - parseTime(state.StartedAt))} (Paused)`;
    if (state.Restarting) return `Restarting (${state.ExitCode}) ${humanDuration(now - parseTime(state.FinishedAt))} ago`;
    let text = `Up ${humanDuration(now - parseTime(state.StartedAt))}`;
    const health = state.Health?.Status;
    if (health === 'starting') text += ' (health: starting)';
    else if (health === 'healthy' || health === 'unhealthy') text += ` (${health})`;
    return text;
  }
  if (state.Status === 'removing') return 'Removal In Progress';
  if (state.Dead || state.Status === 'dead') return 'Dead';
  if (!state.StartedAt || state.StartedAt === ZERO_TIME || parseTime(state.StartedAt) <= 0) return 'Created';
  if (!state.FinishedAt || state.FinishedAt === ZERO_TIME || parseTime(state.FinishedAt) <= 0) return '';
  return `Exited (${state.ExitCode}) ${humanDuration(now - parseTime(state.FinishedAt))} ago`;
}
