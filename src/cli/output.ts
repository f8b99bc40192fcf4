// Output helpers shared by the berth commands: exit-status errors, Docker's ID truncation and
// quoting, timestamps in Docker's fixed RFC 3339 nano layout, progress-message display, and
// the formatter machinery (table/json/Go template) that ps, images and history share.

import type { JsonMessage } from '../client/engine-client.js';
import { FlagError } from './flags.js';
import { ProgressRenderer, renderJsonMessages } from './progress.js';
import { UNKNOWN_WIDTH } from '../wire/progress.js';
import { formatTable } from './table.js';
import { formatGoG } from '../util/units.js';
import { compileTemplate, HEADER_FUNCTIONS, isTableFormat, prepareFormat } from './template.js';

import { StatusError } from './status-error.js';

export { StatusError };

export { FlagError };

/** stringid.TruncateID: drop the algorithm prefix, keep 12 hex characters. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  const hex = colon === -1 ? id : id.slice(colon + 1);
  return hex.length > 12 ? hex.slice(0, 12) : hex;
}

/** formatter.Ellipsis: cut to maxWidth characters, the last one replaced by "…". */
export function ellipsis(text: string, maxWidth: number): string {
  if (maxWidth <= 0) return '';
  const chars = [...text];
  if (maxWidth === 1) return chars[0] ?? '';
  if (chars.length <= maxWidth) return text;
  return chars.slice(0, maxWidth - 1).join('') + '…';
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision(size, 3), what ps, images and history print ("4.26MB"). */
export function displaySize(bytes: number, precision = 3): string {
  let size = bytes;
  let index = 0;
  while (size >= 1000 && index < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    index++;
  }
  return `${formatGoG(size, precision)}${DECIMAL_UNITS[index]}`;
}

/** Go's strconv.Quote: double-quoted with Go escapes, printable Unicode kept as is. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Go's "2006-01-02T15:04:05.000000000Z07:00" (jsonmessage.RFC3339NanoFixed) in local time.
 * `nanos` is a decimal string so that no digit is lost.
 */
export function formatRfc3339NanoFixed(seconds: number, nanos: number, offsetMinutes?: number): string {
  const date = new Date(seconds * 1000);
  const offset = offsetMinutes ?? -date.getTimezoneOffset();
  const local = new Date((seconds + offset * 60) * 1000);
  const datePart = `${local.getUTCFullYear()}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())}`;
  const timePart = `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())}`;
  const frac = String(nanos).padStart(9, '0');
  let zone = 'Z';
  if (offset !== 0) {
    const sign = offset > 0 ? '+' : '-';
    const abs = Math.abs(offset);
    zone = `${sign}${pad2(Math.trunc(abs / 60))}:${pad2(abs % 60)}`;
  }
  return `${datePart}T${timePart}.${frac}${zone}`;
}

/** time.Unix(sec, 0).Format(time.RFC3339) in local time. */
export function formatRfc3339(seconds: number, offsetMinutes?: number): string {
  return formatRfc3339NanoFixed(seconds, 0, offsetMinutes).replace('.000000000', '');
}

/** Go's time.Time.String() for time.Unix(sec, 0): "2024-01-01 10:00:00 +0100 CET" (without the zone name we cannot know). */
export function formatGoTime(seconds: number, offsetMinutes?: number): string {
  const date = new Date(seconds * 1000);
  const offset = offsetMinutes ?? -date.getTimezoneOffset();
  const local = new Date((seconds + offset * 60) * 1000);
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  const zoneName = offset === 0 ? 'UTC' : Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? '';
  return (
    `${local.getUTCFullYear()}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())} ` +
    `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())} ` +
    `${sign}${pad2(Math.trunc(abs / 60))}${pad2(abs % 60)} ${zoneName}`
  ).trimEnd();
}

/** Split a "timeNano" decimal string into whole seconds and nanoseconds without losing digits. */
export function splitTimeNano(timeNano: string): { seconds: number; nanos: number } {
  const digits = timeNano.replace(/^0+/, '') || '0';
  const padded = digits.padStart(10, '0');
  return { seconds: Number(padded.slice(0, -9)), nanos: Number(padded.slice(-9)) };
}

/**
 * Shows a pull/push/import/load progress stream as the docker CLI does (src/cli/progress.ts):
 * rewritten in place when `output` is a terminal, plain lines otherwise (also when no output is
 * given). An error in the stream becomes exit status `errorStatus`, or a plain Error.
 */
export async function displayProgressStream(
  messages: AsyncIterable<{ value: JsonMessage }>, write: (text: string) => void, errorStatus?: number,
  output?: { isTTY?: boolean; columns?: number },
): Promise<void> {
  try {
    await renderJsonMessages(messages, write, { terminal: output?.isTTY === true, width: () => output?.columns ?? UNKNOWN_WIDTH });
  } catch (err) {
    if (errorStatus === undefined || err instanceof StatusError) throw err;
    throw new StatusError(errorStatus, (err as Error).message);
  }
}

// ---- formatter (docker's cli/command/formatter.Context) ----

export interface FormatterOptions {
  /** The --format value; "" or "table" means the command's default table. */
  format: string;
  defaultTable: string;
  quiet?: boolean;
  quietFormat?: string;
}

/** The effective format string, as NewContainerFormat/NewImageFormat choose it. */
export function chooseFormat(options: FormatterOptions): string {
  const source = options.format;
  if (source === '' || source === 'table') {
    return options.quiet ? (options.quietFormat ?? '{{.ID}}') : options.defaultTable;
  }
  if (options.quiet && source !== 'json') return options.quietFormat ?? '{{.ID}}';
  return source;
}

function templateBody(format: string): string {
  return format === 'json' ? '{{json .}}' : prepareFormat(format);
}

/**
 * Render rows with a format: a table (header row rendered from `headers`, columns aligned like
 * tabwriter), or one template execution per row, each followed by a newline.
 */
export function renderFormatted(format: string, rows: unknown[], headers: Record<string, string>): string {
  const body = templateBody(format);
  let render: (data: unknown) => string;
  try {
    render = compileTemplate(body);
  } catch (err) {
    throw new StatusError(1, `template parsing error: ${(err as Error).message}`);
  }
  const rendered: string[] = [];
  for (const row of rows) {
    try {
      rendered.push(render(row));
    } catch (err) {
      throw new StatusError(1, `template parsing error: ${(err as Error).message}`);
    }
  }
  if (format === 'json' || !isTableFormat(format)) {
    return rendered.map((text) => text + '\n').join('');
  }
  let header = '';
  try {
    header = compileTemplate(body, { functions: HEADER_FUNCTIONS })(headers);
  } catch {
    header = '';
  }
  const lines = [header, ...rendered].join('\n').split('\n');
  return formatTable(lines.map((line) => line.split('\t')));
}

/** Marshal a formatter context the way formatter.MarshalJSON does: keys sorted, values as given. */
export function sortedJson(value: Record<string, unknown>): string {
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    if (typeof value[key] !== 'function') sorted[key] = value[key];
  }
  return JSON.stringify(sorted);
}

/** Write to stdout honouring backpressure. */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}

/** Resolves once what was written to stdout (a pipe writes asynchronously) is out: the CLI exits right after. */
export function flushStdout(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()));
}
