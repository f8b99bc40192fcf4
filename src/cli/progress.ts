// The terminal renderer of Docker's JSON message stream (moby pkg/jsonmessage): what pull,
// push, load and import print. On a terminal every message with an id and a progressDetail
// owns one line, rewritten in place (cursor up, erase line, the message, cursor back down);
// progress bars appear when the terminal is wider than 110 columns. Elsewhere progress
// messages are dropped and the others print one per line, as the docker CLI does without a
// TTY. The daemon also uses formatProgress to fill the `progress` field of its messages.
import type { JsonMessage } from '../client/engine-client.js';
import { formatProgress, UNKNOWN_WIDTH } from '../wire/progress.js';
import { formatRfc3339NanoFixed, splitTimeNano } from './output.js';

/** An error message of the stream (errorDetail), ending the display. */
export class JsonMessageError extends Error {
  override name = 'JsonMessageError';
  constructor(message: string, readonly code: number | undefined) {
    super(message);
  }
}

export interface RenderOptions {
  /** The output is a terminal: per-id lines rewritten in place, with progress bars. */
  terminal: boolean;
  /** The terminal's width in columns, asked for each message (Docker asks each time too). */
  width?: () => number;
  /** Called with messages that carry `aux` data (push digests, build image IDs); they are not printed. */
  onAux?: (message: JsonMessage) => void;
}

/** DisplayJSONMessagesStream, one message at a time. */
export class ProgressRenderer {
  /** Line index (from the top of the block) of every id being shown. */
  private ids = new Map<string, number>();

  constructor(private readonly write: (text: string) => void, private readonly options: RenderOptions) {}

  /** Prints a message; throws JsonMessageError for an error message. */
  render(message: JsonMessage): void {
    if (message.aux !== undefined && message.aux !== null) {
      this.options.onAux?.(message);
      return;
    }
    const { terminal } = this.options;
    const hasDetail = message.progressDetail !== undefined && message.progressDetail !== null;
    let diff = 0;
    if (message.id && (hasDetail || message.progress)) {
      let line = this.ids.get(message.id);
      if (line === undefined) {
        line = this.ids.size;
        this.ids.set(message.id, line);
        if (terminal) this.write('\n');
      }
      diff = this.ids.size - line;
      if (terminal && diff > 0) this.write(`\x1b[${diff}A`);
    } else {
      // Anything else ends the block: later messages must not rewrite lines of an earlier
      // operation (pull -a goes through several tags).
      this.ids.clear();
    }
    const error = this.display(message);
    if (message.id && terminal && diff > 0) this.write(`\x1b[${diff}B`);
    if (error) throw error;
  }

  /** JSONMessage.Display. */
  private display(message: JsonMessage): JsonMessageError | undefined {
    if (message.errorDetail || message.error !== undefined) {
      if (message.errorDetail?.code === 401) return new JsonMessageError('authentication is required', 401);
      return new JsonMessageError(message.errorDetail?.message ?? message.error ?? '', message.errorDetail?.code);
    }
    const { terminal } = this.options;
    const detail = message.progressDetail ?? undefined;
    const width = this.options.width?.() ?? UNKNOWN_WIDTH;
    let endOfLine = '';
    if (terminal && !message.stream && detail) {
      this.write('\x1b[2K\r');
      endOfLine = '\r';
    } else if (detail && formatProgress(detail, terminal ? width : UNKNOWN_WIDTH) !== '') {
      // Progress bars are for terminals only.
      return undefined;
    }
    let text = '';
    if (message.timeNano) {
      const { seconds, nanos } = splitTimeNano(String(message.timeNano));
      text += `${formatRfc3339NanoFixed(seconds, nanos)} `;
    } else if (message.time) {
      text += `${formatRfc3339NanoFixed(message.time, 0)} `;
    }
    if (message.id) text += `${message.id}: `;
    if (message.from) text += `(from ${message.from}) `;
    const status = message.status ?? '';
    if (detail && terminal) text += `${status} ${formatProgress(detail, width)}${endOfLine}`;
    else if (message.progress) text += `${status} ${message.progress}${endOfLine}`;
    else if (message.stream) text += `${message.stream}${endOfLine}`;
    else text += `${status}${endOfLine}\n`;
    this.write(text);
    return undefined;
  }
}

/** Renders a whole stream; resolves at its end, rejects with JsonMessageError at an error message. */
export async function renderJsonMessages(
  messages: AsyncIterable<{ value: JsonMessage }>, write: (text: string) => void, options: RenderOptions,
): Promise<void> {
  const renderer = new ProgressRenderer(write, options);
  for await (const { value } of messages) renderer.render(value);
}
