// Column alignment compatible with Go's text/tabwriter as the docker CLI configures it
// (tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)): tab-terminated cells, column blocks.

export interface TabwriterOptions {
  /** Minimal cell width including padding. */
  minWidth: number;
  /** Added to the widest cell of a column. */
  padding: number;
  padChar: string;
}

export const DOCKER_TABWRITER: TabwriterOptions = { minWidth: 10, padding: 3, padChar: ' ' };

function textWidth(text: string): number {
  // tabwriter counts UTF-8 runes, not display columns.
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * Align tab-separated text the way tabwriter does. Each line is split at tabs; every cell but the
 * last one on a line is tab-terminated and belongs to a column. A column's width is computed over
 * a block of consecutive lines that all have a cell in that column.
 */
export function tabwrite(text: string, options: TabwriterOptions = DOCKER_TABWRITER): string {
  const endsWithNewline = text.endsWith('\n');
  const body = endsWithNewline ? text.slice(0, -1) : text;
  if (body === '' && !endsWithNewline) return '';
  const lines = body.split('\n').map((line) => line.split('\t'));
  const output: string[] = lines.map(() => '');
  const widths: number[] = [];

  const emit = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let out = '';
      for (let column = 0; column < cells.length; column++) {
        const cell = cells[column]!;
        // Only the last cell of a line lies beyond the known widths; it is never padded.
        out += cell;
        if (column < widths.length) out += options.padChar.repeat(Math.max(0, widths[column]! - textWidth(cell)));
      }
      output[i] = out;
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let current = line0; current < line1; current++) {
      if (column >= lines[current]!.length - 1) continue;
      emit(start, current);
      const blockStart = current;
      let width = options.minWidth;
      for (; current < line1; current++) {
        const cells = lines[current]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, textWidth(cells[column]!) + options.padding);
      }
      widths.push(width);
      format(blockStart, current);
      widths.pop();
      start = current;
      current--; // the for-loop increment re-examines the line that ended the block
    }
    emit(start, line1);
  };

  format(0, lines.length);
  return output.join('\n') + (endsWithNewline ? '\n' : '');
}

/** Rows of cells (first row = headers) aligned like docker's table output; every line ends in "\n". */
export function formatTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  return tabwrite(rows.map((row) => row.join('\t')).join('\n') + '\n');
}
