// Signal names and numbers as Docker accepts them: "SIGTERM", "TERM", "15", "sigkill".
import { constants } from 'node:os';

export function parseSignal(value: string | number | undefined, fallback = 'SIGKILL'): number | undefined {
  const text = String(value ?? '').trim() || fallback;
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    return number > 0 && number <= 64 ? number : undefined;
  }
  const upper = text.toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as keyof typeof constants.signals;
  return constants.signals[name];
}
