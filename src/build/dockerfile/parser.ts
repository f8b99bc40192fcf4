// The Dockerfile parser, as BuildKit's frontend/dockerfile/parser reads a file: parser
// directives at the top (escape, syntax, check: accepted; only escape changes anything),
// comment lines dropped anywhere (also inside a continued instruction), lines continued with
// the escape character, a keyword and its `--flags`, the exec (JSON) or shell form, and
// heredocs after RUN, COPY and ADD (`<<EOF`, `<<-EOF` stripping leading tabs, `<<"EOF"`
// without expansion). Errors name the line as Docker does:
// "dockerfile parse error on line 3: unknown instruction: FOO". Pure.
import { badParameter, type EngineError } from '../../errdefs/errors.js';

export interface Heredoc {
  name: string;
  content: string;
  /** False for a quoted terminator (`<<"EOF"`): no variable expansion in the content. */
  expand: boolean;
}

export interface DockerfileInstruction {
  /** Upper-case keyword: "RUN". */
  keyword: string;
  /** Lower-case keyword, as images/changes.ts' instructions name it. */
  command: string;
  /** The leading `--name[=value]` words. */
  flags: string[];
  /** The arguments after the flags, continuations joined, trimmed; without heredoc bodies. */
  rest: string;
  /** The exec form's words when `rest` is a JSON array of strings. */
  json?: string[];
  heredocs: Heredoc[];
  /** "KEYWORD rest" as written on the logical line (flags included). */
  original: string;
  /** 1-based first and last line in the file. */
  startLine: number;
  endLine: number;
}

export interface Dockerfile {
  escape: string;
  instructions: DockerfileInstruction[];
  /** Docker's warnings ("empty continuation line"). */
  warnings: string[];
}

export const KNOWN_INSTRUCTIONS = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);
const HEREDOC_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD']);
const HEREDOC_MARKER = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\2/g;
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

export function parseError(line: number, message: string): EngineError {
  return badParameter(`dockerfile parse error on line ${line}: ${message}`);
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let escape = '\\';
  let index = 0;
  // Directives: only before the first comment that is not one, blank line or instruction.
  const seenDirectives = new Set<string>();
  for (; index < lines.length; index++) {
    const match = DIRECTIVE.exec(lines[index]!);
    if (!match) break;
    const name = match[1]!.toLowerCase();
    if (seenDirectives.has(name)) throw parseError(index + 1, `only one ${name} parser directive can be used`);
    seenDirectives.add(name);
    if (name === 'escape') {
      if (match[2] !== '\\' && match[2] !== '`') throw parseError(index + 1, `invalid escape token '${match[2]}' does not match ` + '` or \\');
      escape = match[2]!;
    }
  }
  const continuation = new RegExp(`${escapeRegExp(escape)}[ \\t]*$`);
  const instructions: DockerfileInstruction[] = [];
  const warnings: string[] = [];
  while (index < lines.length) {
    const first = lines[index]!;
    if (/^\s*(#|$)/.test(first)) { index++; continue; }
    const startLine = index + 1;
    let logical = first.replace(/^\s+/, '');
    let ended = !continuation.test(logical);
    if (!ended) logical = logical.replace(continuation, '');
    index++;
    while (!ended && index < lines.length) {
      const line = lines[index++]!;
      if (/^\s*#/.test(line)) continue;
      if (/^\s*$/.test(line)) { warnings.push(`[WARNING]: Empty continuation line found in: ${logical}`); continue; }
      ended = !continuation.test(line);
      logical += ended ? line : line.replace(continuation, '');
    }
    const instruction = splitInstruction(logical.trim(), startLine);
    if (HEREDOC_INSTRUCTIONS.has(instruction.keyword)) {
      for (const marker of instruction.rest.matchAll(HEREDOC_MARKER)) {
        const [, chomp, quote, name] = marker;
        let content = '';
        for (;;) {
          if (index >= lines.length) throw parseError(startLine, `unterminated heredoc ${name}`);
          let line = lines[index++]!;
          if (chomp) line = line.replace(/^\t+/, '');
          if (line === name) break;
          content += `${line}\n`;
        }
        instruction.heredocs.push({ name: name!, content, expand: quote === '' });
      }
    }
    instruction.endLine = index;
    instructions.push(instruction);
  }
  return { escape, instructions, warnings };
}

function splitInstruction(logical: string, line: number): DockerfileInstruction {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(logical)!;
  const keyword = match[1]!.toUpperCase();
  if (!KNOWN_INSTRUCTIONS.has(keyword)) throw parseError(line, `unknown instruction: ${match[1]}`);
  let rest = match[2]!;
  const flags: string[] = [];
  for (;;) {
    const flag = /^(--\S*)\s*/.exec(rest);
    if (!flag) break;
    rest = rest.slice(flag[0].length);
    if (flag[1] === '--') break;
    flags.push(flag[1]!);
  }
  rest = rest.trim();
  const instruction: DockerfileInstruction = {
    keyword, command: keyword.toLowerCase(), flags, rest, heredocs: [], original: logical, startLine: line, endLine: line,
  };
  const json = parseJsonArray(rest);
  if (json) instruction.json = json;
  return instruction;
}

/** The exec form's words, or undefined for the shell form (anything that is not a JSON array of strings). */
export function parseJsonArray(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(rest);
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
  } catch {
    // Not JSON: the shell form.
  }
  return undefined;
}

/** The `--name=value` flags an instruction allows; a bare `--flag` is "true". Throws Docker's errors. */
export function instructionFlags(instruction: DockerfileInstruction, allowed: readonly string[]): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const flag of instruction.flags) {
    const body = flag.slice(2);
    const equals = body.indexOf('=');
    const name = equals >= 0 ? body.slice(0, equals) : body;
    if (!allowed.includes(name)) throw parseError(instruction.startLine, `Unknown flag: ${name}`);
    values.set(name, [...(values.get(name) ?? []), equals >= 0 ? body.slice(equals + 1) : 'true']);
  }
  return values;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
