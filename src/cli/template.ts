// Go text/template for --format / inspect -f: the lexer, parser and executor follow Go's
// text/template (actions, trimming, variables, if/with/range/else, break/continue, define/
// template/block, pipelines) with Go's builtins and the docker CLI's template functions.
// Data is JSON-decoded (objects act as map[string]interface{}), printed the way Go's fmt does.

import { parseGoInt } from './flags.js';
import { formatGoFloat } from '../util/units.js';

export class TemplateError extends Error {
  override name = 'TemplateError';
}

/** Go's "invalid reflect.Value": a missing map key, printed as "<no value>". */
const NO_VALUE: unique symbol = Symbol('no value');
type Value = unknown;

export type TemplateFunction = (...args: unknown[]) => unknown;

export interface TemplateOptions {
  /** Template name used in error messages; docker uses "". */
  name?: string;
  /** Go's missingkey option: "default"/"invalid" print <no value>, "zero" gives nil, "error" fails. */
  missingKey?: 'default' | 'invalid' | 'zero' | 'error';
  /** Extra functions, or replacements for built-in ones (e.g. HEADER_FUNCTIONS). */
  functions?: Record<string, TemplateFunction>;
}

// ---------------------------------------------------------------------------------------------
// Lexer

type ItemType =
  | 'error' | 'eof' | 'text' | 'leftDelim' | 'rightDelim' | 'space' | 'field' | 'variable' | 'dot'
  | 'identifier' | 'bool' | 'number' | 'charConstant' | 'string' | 'rawString' | 'leftParen'
  | 'rightParen' | 'pipe' | 'declare' | 'assign' | 'char' | 'nil'
  | 'block' | 'break' | 'continue' | 'define' | 'else' | 'end' | 'if' | 'range' | 'template' | 'with';

const KEYWORDS = new Set<ItemType>(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'nil', 'template', 'with']);

interface Item {
  type: ItemType;
  value: string;
  pos: number;
  line: number;
}

function itemString(item: Item): string {
  if (item.type === 'eof') return 'EOF';
  if (item.type === 'error') return item.value;
  if (KEYWORDS.has(item.type)) return `<${item.value}>`;
  if (item.value.length > 10) return `${goQuote(item.value.slice(0, 10))}...`;
  return goQuote(item.value);
}

const LEFT_DELIM = '{{';
const RIGHT_DELIM = '}}';

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined): boolean => c !== undefined && /^[\p{L}\p{Nd}_]$/u.test(c);

function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;

  const emit = (type: ItemType, value = input.slice(start, pos)): void => {
    items.push({ type, value, pos: start, line: startLine });
    for (const c of input.slice(start, pos)) if (c === '\n') line++;
    start = pos;
    startLine = line;
  };
  const ignore = (): void => {
    for (const c of input.slice(start, pos)) if (c === '\n') line++;
    start = pos;
    startLine = line;
  };
  const fail = (message: string): false => {
    items.push({ type: 'error', value: message, pos: start, line: startLine });
    return false;
  };
  const hasLeftTrimMarker = (at: number): boolean => input[at] === '-' && isSpace(input[at + 1]);
  const hasRightTrimMarker = (at: number): boolean => isSpace(input[at]) && input[at + 1] === '-';
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    if (hasRightTrimMarker(pos) && input.startsWith(RIGHT_DELIM, pos + 2)) return { delim: true, trim: true };
    return { delim: input.startsWith(RIGHT_DELIM, pos), trim: false };
  };
  const atTerminator = (): boolean => {
    const c = input[pos];
    if (c === undefined || isSpace(c) || '.,|:)('.includes(c)) return true;
    return input.startsWith(RIGHT_DELIM, pos);
  };
  const skipLeadingSpace = (): void => {
    while (isSpace(input[pos])) pos++;
    ignore();
  };
  const badCharacter = (c: string | undefined): false =>
    fail(`bad character U+${(c ?? '').codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')} '${c}'`);

  // Returns false once an error item has been emitted.
  const lexInsideAction = (): boolean => {
    for (;;) {
      const { delim, trim } = atRightDelim();
      if (delim) {
        if (parenDepth !== 0) return fail('unclosed left paren');
        if (trim) {
          pos += 2;
          ignore();
        }
        pos += RIGHT_DELIM.length;
        emit('rightDelim');
        if (trim) skipLeadingSpace();
        return true;
      }
      const c = input[pos];
      if (c === undefined) return fail('unclosed action');
      if (isSpace(c)) {
        while (isSpace(input[pos])) pos++;
        // A space followed by "-}}" is the trim marker of the closing delimiter, not a space item.
        if (hasRightTrimMarker(pos - 1) && input.startsWith(RIGHT_DELIM, pos + 1)) {
          pos--;
          if (pos === start) continue;
        }
        emit('space');
        continue;
      }
      pos++;
      if (c === '=') emit('assign');
      else if (c === ':') {
        if (input[pos] !== '=') return fail('expected :=');
        pos++;
        emit('declare');
      } else if (c === '|') emit('pipe');
      else if (c === '"') {
        for (;;) {
          const d = input[pos++];
          if (d === '\\') {
            const e = input[pos++];
            if (e !== undefined && e !== '\n') continue;
            return fail('unterminated quoted string');
          }
          if (d === undefined || d === '\n') return fail('unterminated quoted string');
          if (d === '"') break;
        }
        emit('string');
      } else if (c === '`') {
        const end = input.indexOf('`', pos);
        if (end === -1) return fail('unterminated raw quoted string');
        pos = end + 1;
        emit('rawString');
      } else if (c === "'") {
        for (;;) {
          const d = input[pos++];
          if (d === '\\') {
            const e = input[pos++];
            if (e !== undefined && e !== '\n') continue;
            return fail('unterminated character constant');
          }
          if (d === undefined || d === '\n') return fail('unterminated character constant');
          if (d === "'") break;
        }
        emit('charConstant');
      } else if (c === '$' || (c === '.' && !/[0-9]/.test(input[pos] ?? ''))) {
        const type: ItemType = c === '$' ? 'variable' : 'field';
        if (atTerminator()) {
          emit(type === 'variable' ? 'variable' : 'dot');
          continue;
        }
        while (isAlphaNumeric(input[pos])) pos++;
        if (!atTerminator()) return badCharacter(input[pos]);
        emit(type);
      } else if (c === '.' || c === '+' || c === '-' || /[0-9]/.test(c)) {
        pos--;
        const match = /^[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]*)?|0[oO][0-7_]*(?:\.[0-7_]*)?|0[bB][01_]*(?:\.[01_]*)?|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?)i?/.exec(
          input.slice(pos),
        )!;
        pos += match[0].length;
        if (isAlphaNumeric(input[pos])) {
          pos++;
          return fail(`bad number syntax: ${goQuote(input.slice(start, pos))}`);
        }
        emit('number');
      } else if (isAlphaNumeric(c)) {
        while (isAlphaNumeric(input[pos])) pos++;
        const word = input.slice(start, pos);
        if (!atTerminator()) return badCharacter(input[pos]);
        if (KEYWORDS.has(word as ItemType)) emit(word as ItemType);
        else if (word === 'true' || word === 'false') emit('bool');
        else emit('identifier');
      } else if (c === '(') {
        emit('leftParen');
        parenDepth++;
      } else if (c === ')') {
        emit('rightParen');
        parenDepth--;
        if (parenDepth < 0) return fail('unexpected right paren');
      } else if (c.charCodeAt(0) < 0x7f && c.charCodeAt(0) >= 0x20) {
        emit('char');
      } else {
        return fail(`unrecognized character in action: U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
      }
    }
  };

  for (;;) {
    const next = input.indexOf(LEFT_DELIM, pos);
    if (next === -1) {
      pos = input.length;
      if (pos > start) emit('text');
      break;
    }
    pos = next;
    const trimLeft = hasLeftTrimMarker(next + LEFT_DELIM.length);
    if (pos > start) {
      let text = input.slice(start, pos);
      if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
      if (text.length > 0) items.push({ type: 'text', value: text, pos: start, line: startLine });
      ignore();
    }
    pos += LEFT_DELIM.length;
    const afterMarker = trimLeft ? 2 : 0;
    if (input.startsWith('/*', pos + afterMarker)) {
      pos += afterMarker;
      ignore();
      const end = input.indexOf('*/', pos + 2);
      if (end === -1) {
        fail('unclosed comment');
        break;
      }
      pos = end + 2;
      const { delim, trim } = atRightDelim();
      if (!delim) {
        fail('comment ends before closing delimiter');
        break;
      }
      if (trim) pos += 2;
      pos += RIGHT_DELIM.length;
      ignore();
      if (trim) skipLeadingSpace();
      continue;
    }
    emit('leftDelim', LEFT_DELIM);
    pos += afterMarker;
    ignore();
    parenDepth = 0;
    if (!lexInsideAction()) return items;
  }
  items.push({ type: 'eof', value: '', pos: input.length, line });
  return items;
}

// ---------------------------------------------------------------------------------------------
// Parse tree

type ArgNode =
  | { kind: 'field'; pos: number; idents: string[] }
  | { kind: 'variable'; pos: number; idents: string[] }
  | { kind: 'chain'; pos: number; node: ArgNode; fields: string[] }
  | { kind: 'identifier'; pos: number; name: string }
  | { kind: 'dot'; pos: number }
  | { kind: 'nil'; pos: number }
  | { kind: 'bool'; pos: number; value: boolean }
  | { kind: 'number'; pos: number; value: number; text: string }
  | { kind: 'string'; pos: number; value: string; quoted: string }
  | { kind: 'pipe'; pos: number; pipe: PipeNode };

interface CommandNode {
  pos: number;
  args: ArgNode[];
}

interface PipeNode {
  pos: number;
  isAssign: boolean;
  decl: string[];
  cmds: CommandNode[];
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pos: number; pipe: PipeNode }
  | ControlNode
  | { kind: 'template'; pos: number; name: string; pipe: PipeNode | undefined }
  | { kind: 'break' | 'continue'; pos: number };

interface ControlNode {
  kind: 'if' | 'with' | 'range';
  pos: number;
  pipe: PipeNode;
  list: Node[];
  elseList: Node[] | undefined;
}

function argString(node: ArgNode): string {
  switch (node.kind) {
    case 'field':
      return node.idents.map((i) => `.${i}`).join('');
    case 'variable':
      return node.idents.join('.');
    case 'chain': {
      const base = node.node.kind === 'pipe' ? `(${pipeString(node.node.pipe)})` : argString(node.node);
      return base + node.fields.map((f) => `.${f}`).join('');
    }
    case 'identifier':
      return node.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(node.value);
    case 'number':
      return node.text;
    case 'string':
      return node.quoted;
    case 'pipe':
      return `(${pipeString(node.pipe)})`;
  }
}

function commandString(cmd: CommandNode): string {
  return cmd.args.map(argString).join(' ');
}

function pipeString(pipe: PipeNode): string {
  const decl = pipe.decl.length > 0 ? `${pipe.decl.join(', ')} ${pipe.isAssign ? '=' : ':='} ` : '';
  return decl + pipe.cmds.map(commandString).join(' | ');
}

interface ParsedTemplate {
  root: Node[];
  definitions: Map<string, Node[]>;
}

class Parser {
  private index = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private readonly definitions = new Map<string, Node[]>();

  constructor(
    private readonly items: Item[],
    private readonly name: string,
    private readonly hasFunction: (name: string) => boolean,
  ) {}

  parse(): ParsedTemplate {
    const root: Node[] = [];
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const save = this.index;
        this.next();
        if (this.nextNonSpace().type === 'define') {
          this.parseDefinition();
          continue;
        }
        this.index = save;
      }
      const node = this.textOrAction();
      if (node.kind === 'end' || node.kind === 'else') this.fail(`unexpected {{${node.kind}}}`);
      root.push(node as Node);
    }
    return { root, definitions: this.definitions };
  }

  private fail(message: string, item: Item = this.items[Math.min(Math.max(0, this.index - 1), this.items.length - 1)]!): never {
    throw new TemplateError(`template: ${this.name}:${item.line}: ${message}`);
  }

  private unexpected(item: Item, context: string): never {
    if (item.type === 'error') this.fail(item.value, item);
    this.fail(`unexpected ${itemString(item)} in ${context}`, item);
  }

  private next(): Item {
    const item = this.items[Math.min(this.index, this.items.length - 1)]!;
    this.index++;
    return item;
  }

  private peek(): Item {
    return this.items[Math.min(this.index, this.items.length - 1)]!;
  }

  private nextNonSpace(): Item {
    let item = this.next();
    while (item.type === 'space') item = this.next();
    return item;
  }

  private peekNonSpace(): Item {
    const save = this.index;
    const item = this.nextNonSpace();
    this.index = save;
    return item;
  }

  private expect(type: ItemType, context: string): Item {
    const item = this.nextNonSpace();
    if (item.type !== type) this.unexpected(item, context);
    return item;
  }

  private parseTemplateName(item: Item, context: string): string {
    if (item.type === 'string' || item.type === 'rawString') return unquote(item.value, (m) => this.fail(m, item));
    this.unexpected(item, context);
  }

  private parseDefinition(): void {
    const nameItem = this.nextNonSpace();
    const name = this.parseTemplateName(nameItem, 'define clause');
    this.expect('rightDelim', 'define clause');
    const [list, end] = this.itemList();
    if (end.kind !== 'end') this.fail(`unexpected {{${end.kind}}} in define clause`);
    this.definitions.set(name, list);
  }

  private itemList(): [Node[], { kind: 'end' | 'else'; pos: number }] {
    const list: Node[] = [];
    while (this.peekNonSpace().type !== 'eof') {
      const node = this.textOrAction();
      if (node.kind === 'end' || node.kind === 'else') return [list, node as { kind: 'end' | 'else'; pos: number }];
      list.push(node as Node);
    }
    this.fail('unexpected EOF', this.peek());
  }

  private textOrAction(): Node | { kind: 'end' | 'else'; pos: number } {
    const item = this.nextNonSpace();
    if (item.type === 'text') return { kind: 'text', text: item.value };
    if (item.type === 'leftDelim') return this.action();
    this.unexpected(item, 'input');
  }

  private action(): Node | { kind: 'end' | 'else'; pos: number } {
    const item = this.nextNonSpace();
    switch (item.type) {
      case 'block':
        return this.blockControl();
      case 'break':
      case 'continue':
        if (this.rangeDepth === 0) this.fail(`{{${item.type}}} outside {{range}}`, item);
        this.expect('rightDelim', `{{${item.type}}}`);
        return { kind: item.type, pos: item.pos };
      case 'else':
        return this.elseControl();
      case 'end':
        return { kind: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
      case 'with':
      case 'range':
        return this.control(item.type);
      case 'template':
        return this.templateControl();
      default:
        break;
    }
    this.index--;
    const start = this.peekNonSpace();
    return { kind: 'action', pos: start.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private elseControl(): { kind: 'else'; pos: number } {
    const peek = this.peekNonSpace();
    if (peek.type === 'if' || peek.type === 'with') return { kind: 'else', pos: peek.pos };
    return { kind: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private control(kind: 'if' | 'with' | 'range'): Node {
    const varCount = this.vars.length;
    const pipe = this.pipeline(kind, 'rightDelim');
    if (kind === 'range') this.rangeDepth++;
    const [list, next] = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | undefined;
    if (next.kind === 'else') {
      const peek = this.peekNonSpace();
      if ((kind === 'if' && peek.type === 'if') || (kind === 'with' && peek.type === 'with')) {
        this.nextNonSpace();
        elseList = [this.control(kind)];
      } else {
        const [otherList, end] = this.itemList();
        if (end.kind !== 'end') this.fail('expected end; found {{else}}');
        elseList = otherList;
      }
    }
    this.vars.length = varCount;
    return { kind, pos: pipe.pos, pipe, list, elseList };
  }

  private templateControl(): Node {
    const item = this.nextNonSpace();
    const name = this.parseTemplateName(item, 'template clause');
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.index--;
      pipe = this.pipeline('template clause', 'rightDelim');
    }
    return { kind: 'template', pos: item.pos, name, pipe };
  }

  private blockControl(): Node {
    const item = this.nextNonSpace();
    const name = this.parseTemplateName(item, 'block clause');
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.index--;
      pipe = this.pipeline('block clause', 'rightDelim');
    }
    const savedVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    this.vars = savedVars;
    if (end.kind !== 'end') this.fail('unexpected {{else}} in block clause');
    this.definitions.set(name, list);
    return { kind: 'template', pos: item.pos, name, pipe };
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const first = this.peekNonSpace();
    const pipe: PipeNode = { pos: first.pos, isAssign: false, decl: [], cmds: [] };
    for (;;) {
      const variable = this.peekNonSpace();
      if (variable.type !== 'variable') break;
      const save = this.index;
      this.nextNonSpace();
      const following = this.peekNonSpace();
      if (following.type === 'assign' || following.type === 'declare') {
        pipe.isAssign = following.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(variable.value);
        this.vars.push(variable.value);
        break;
      }
      if (following.type === 'char' && following.value === ',') {
        this.nextNonSpace();
        pipe.decl.push(variable.value);
        this.vars.push(variable.value);
        if (context === 'range' && pipe.decl.length < 2) {
          const after = this.peekNonSpace().type;
          if (after === 'variable' || after === 'rightDelim' || after === 'rightParen') continue;
          this.fail('range can only initialize variables');
        }
        this.fail(`too many declarations in ${context}`);
      }
      this.index = save;
      break;
    }
    for (;;) {
      const item = this.nextNonSpace();
      if (item.type === end) {
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((cmd, i) => {
          const kind = cmd.args[0]!.kind;
          if (kind === 'bool' || kind === 'dot' || kind === 'nil' || kind === 'number' || kind === 'string') {
            this.fail(`non executable command in pipeline stage ${i + 2}`);
          }
        });
        return pipe;
      }
      switch (item.type) {
        case 'bool': case 'charConstant': case 'dot': case 'field': case 'identifier': case 'number':
        case 'nil': case 'rawString': case 'string': case 'variable': case 'leftParen':
          this.index--;
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(item, context);
      }
    }
  }

  private command(): CommandNode {
    const cmd: CommandNode = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const item = this.next();
      if (item.type === 'space') continue;
      if (item.type === 'rightDelim' || item.type === 'rightParen') this.index--;
      else if (item.type !== 'pipe') this.unexpected(item, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command');
    return cmd;
  }

  private operand(): ArgNode | undefined {
    const node = this.term();
    if (!node) return undefined;
    if (this.peek().type !== 'field') return node;
    const chainPos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().value.slice(1));
    switch (node.kind) {
      case 'field':
        return { kind: 'field', pos: chainPos, idents: [...node.idents, ...fields] };
      case 'variable':
        return { kind: 'variable', pos: chainPos, idents: [...node.idents, ...fields] };
      case 'bool': case 'string': case 'number': case 'nil': case 'dot':
        this.fail(`unexpected . after term ${goQuote(argString(node))}`);
      default:
        return { kind: 'chain', pos: chainPos, node, fields };
    }
  }

  private term(): ArgNode | undefined {
    const item = this.nextNonSpace();
    switch (item.type) {
      case 'identifier':
        if (!this.hasFunction(item.value)) this.fail(`function ${goQuote(item.value)} not defined`, item);
        return { kind: 'identifier', pos: item.pos, name: item.value };
      case 'dot':
        return { kind: 'dot', pos: item.pos };
      case 'nil':
        return { kind: 'nil', pos: item.pos };
      case 'variable': {
        const idents = item.value.split('.');
        if (!this.vars.includes(idents[0]!)) this.fail(`undefined variable ${goQuote(idents[0]!)}`, item);
        return { kind: 'variable', pos: item.pos, idents };
      }
      case 'field':
        return { kind: 'field', pos: item.pos, idents: [item.value.slice(1)] };
      case 'bool':
        return { kind: 'bool', pos: item.pos, value: item.value === 'true' };
      case 'charConstant':
      case 'number':
        return { kind: 'number', pos: item.pos, value: parseNumber(item, (m) => this.fail(m, item)), text: item.value };
      case 'leftParen':
        return { kind: 'pipe', pos: item.pos, pipe: this.pipeline('parenthesized pipeline', 'rightParen') };
      case 'string':
      case 'rawString':
        return { kind: 'string', pos: item.pos, value: unquote(item.value, (m) => this.fail(m, item)), quoted: item.value };
      default:
        this.index--;
        return undefined;
    }
  }
}

function parseNumber(item: Item, fail: (message: string) => never): number {
  const text = item.value;
  if (item.type === 'charConstant') {
    const body = text.slice(1, -1);
    const decoded = body.startsWith('\\') ? unquote(`"${body.replace(/^\\'/, "'")}"`, fail) : body;
    const chars = [...decoded];
    if (chars.length !== 1) fail(`malformed character constant: ${text}`);
    return chars[0]!.codePointAt(0)!;
  }
  if (text.endsWith('i')) fail(`illegal number syntax: ${goQuote(text)}`);
  try {
    return parseGoInt(text);
  } catch {
    // not an integer literal; try a float
  }
  const cleaned = text.replace(/_/g, '');
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(cleaned)) return Number(cleaned);
  fail(`illegal number syntax: ${goQuote(text)}`);
}

/** strconv.Unquote for "..." and `...` literals. */
function unquote(text: string, fail: (message: string) => never): string {
  if (text.startsWith('`')) return text.slice(1, -1).replace(/\r/g, '');
  const body = text.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
    if (e !== undefined && simple[e] !== undefined) {
      out += simple[e];
      continue;
    }
    const hexLength = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLength > 0) {
      const hex = body.slice(i + 1, i + 1 + hexLength);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(hex)) fail('invalid syntax');
      const code = parseInt(hex, 16);
      if (e === 'x') out += String.fromCharCode(code);
      else {
        if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) fail('invalid syntax');
        out += String.fromCodePoint(code);
      }
      i += hexLength;
      continue;
    }
    if (e !== undefined && /[0-7]/.test(e)) {
      const octal = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(octal) || parseInt(octal, 8) > 255) fail('invalid syntax');
      out += String.fromCharCode(parseInt(octal, 8));
      i += 2;
      continue;
    }
    fail('invalid syntax');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Go fmt for JSON-decoded values

function goQuote(text: string): string {
  let out = '"';
  for (const c of text) {
    const code = c.codePointAt(0)!;
    switch (c) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
      default: break;
    }
    if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0xd800 && code < 0xe000) out += '\\ufffd';
    else if (/\p{C}|\p{Zl}|\p{Zp}/u.test(c) && code > 0x7f) {
      out += code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += c;
  }
  return out + '"';
}

function isMap(value: Value): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInt(value: Value): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function goTypeName(value: Value): string {
  if (value === null || value === undefined || value === NO_VALUE) return '<nil>';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float64';
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') && value.length > 0 ? '[]string' : '[]interface {}';
  if (typeof value === 'function') return 'func';
  return 'map[string]interface {}';
}

function formatInteger(value: number): string {
  return Math.abs(value) < 1e21 ? String(value) : BigInt(value).toString();
}

/** Integers print as Go ints (docker's typed fields); other numbers as float64 %v. */
function formatFloat(value: number): string {
  if (Number.isInteger(value)) return formatInteger(value);
  return formatGoFloat(value, 'g', -1);
}

function sortedKeys(map: Record<string, unknown>): string[] {
  return Object.keys(map)
    .filter((k) => map[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** fmt's %v. */
function formatValue(value: Value): string {
  if (value === NO_VALUE) return '<no value>';
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatFloat(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(' ')}]`;
  if (isMap(value)) return `map[${sortedKeys(value).map((k) => `${k}:${formatValue(value[k])}`).join(' ')}]`;
  return String(value);
}

/** fmt.Sprint: a space between operands when neither is a string. */
export function goSprint(args: Value[]): string {
  let out = '';
  args.forEach((arg, i) => {
    if (i > 0 && typeof arg !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(arg);
  });
  return out;
}

function goSprintln(args: Value[]): string {
  return args.map(formatValue).join(' ') + '\n';
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  precision?: number;
}

function pad(text: string, spec: Spec, numeric = false): string {
  const length = [...text].length;
  if (spec.width === undefined || length >= spec.width) return text;
  const fill = spec.width - length;
  if (spec.minus) return text + ' '.repeat(fill);
  if (spec.zero && numeric) {
    const signMatch = /^[+-]/.exec(text);
    const sign = signMatch ? signMatch[0] : '';
    return sign + '0'.repeat(fill) + text.slice(sign.length);
  }
  return ' '.repeat(fill) + text;
}

function badVerb(verb: string, value: Value): string {
  if (value === null || value === undefined || value === NO_VALUE) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(value)}=${formatValue(value)})`;
}

function formatSigned(digits: string, negative: boolean, spec: Spec): string {
  const sign = negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  if (spec.precision !== undefined) digits = digits.padStart(spec.precision, '0');
  return sign + digits;
}

function formatOne(verb: string, value: Value, spec: Spec): string {
  // Go applies the verb, width and flags to each element of slices and maps.
  if (verb !== 'T' && Array.isArray(value)) return `[${value.map((v) => formatOne(verb, v, spec)).join(' ')}]`;
  if (verb !== 'T' && isMap(value)) {
    return `map[${sortedKeys(value).map((k) => `${formatOne(verb, k, spec)}:${formatOne(verb, value[k], spec)}`).join(' ')}]`;
  }
  switch (verb) {
    case 'v':
      if (typeof value === 'number') return pad(formatNumberV(value, spec), spec, true);
      if (typeof value === 'string' && spec.sharp) return pad(goQuote(value), spec);
      return pad(formatValue(value), spec);
    case 'T':
      return pad(goTypeName(value), spec);
    case 's':
      if (typeof value !== 'string') return badVerb(verb, value);
      return pad(spec.precision !== undefined ? [...value].slice(0, spec.precision).join('') : value, spec);
    case 'q':
      if (typeof value === 'string') return pad(goQuote(value), spec);
      if (isInt(value)) return pad(`'${String.fromCodePoint(value)}'`, spec);
      return badVerb(verb, value);
    case 't':
      return typeof value === 'boolean' ? pad(String(value), spec) : badVerb(verb, value);
    case 'd':
      return isInt(value) ? pad(formatSigned(formatInteger(Math.abs(value)), value < 0, spec), spec, spec.precision === undefined) : badVerb(verb, value);
    case 'b':
    case 'o':
    case 'O':
    case 'x':
    case 'X': {
      if (typeof value === 'string' && (verb === 'x' || verb === 'X')) {
        const hex = Buffer.from(value, 'utf8').toString('hex');
        return pad(verb === 'X' ? hex.toUpperCase() : hex, spec);
      }
      if (!isInt(value)) return badVerb(verb, value);
      const radix = verb === 'b' ? 2 : verb === 'o' || verb === 'O' ? 8 : 16;
      let digits = BigInt(Math.abs(value)).toString(radix);
      if (verb === 'X') digits = digits.toUpperCase();
      if (spec.precision !== undefined) digits = digits.padStart(spec.precision, '0');
      const prefix = verb === 'O' ? '0o' : spec.sharp ? (radix === 16 ? (verb === 'X' ? '0X' : '0x') : radix === 8 ? '0' : '0b') : '';
      return pad(formatSigned(prefix + digits, value < 0, { ...spec, precision: undefined }), spec, true);
    }
    case 'c':
      return isInt(value) ? pad(String.fromCodePoint(value), spec) : badVerb(verb, value);
    case 'U':
      return isInt(value) ? pad(`U+${value.toString(16).toUpperCase().padStart(4, '0')}`, spec) : badVerb(verb, value);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      if (typeof value !== 'number') return badVerb(verb, value);
      const negative = value < 0 || Object.is(value, -0);
      const magnitude = Math.abs(value);
      const format = verb.toLowerCase() as 'e' | 'f' | 'g';
      const precision = spec.precision ?? (format === 'g' ? -1 : 6);
      let body = formatGoFloat(magnitude, format, precision);
      if (verb === 'E' || verb === 'G') body = body.toUpperCase();
      return pad(formatSigned(body, negative, { ...spec, precision: undefined }), spec, true);
    }
    default:
      return badVerb(verb, value);
  }
}

function formatNumberV(value: number, spec: Spec): string {
  const text = formatFloat(Math.abs(value));
  return formatSigned(text, value < 0, { ...spec, precision: undefined });
}

/** fmt.Sprintf with Go's verbs, flags, width and precision (including "*"). */
export function goSprintf(format: string, args: Value[]): string {
  let out = '';
  let argIndex = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    const spec: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; i < format.length; i++) {
      const flag = format[i];
      if (flag === '-') spec.minus = true;
      else if (flag === '+') spec.plus = true;
      else if (flag === '#') spec.sharp = true;
      else if (flag === ' ') spec.space = true;
      else if (flag === '0') spec.zero = !spec.minus;
      else break;
    }
    const readNumber = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const value = args[argIndex++];
        if (!isInt(value)) {
          out += '%!(BADWIDTH)';
          return undefined;
        }
        if (value < 0) {
          spec.minus = true;
          return -value;
        }
        return value;
      }
      const match = /^\d+/.exec(format.slice(i));
      if (!match) return undefined;
      i += match[0].length;
      return Number(match[0]);
    };
    spec.width = readNumber();
    if (format[i] === '.') {
      i++;
      spec.precision = readNumber() ?? 0;
    }
    const verb = format[i];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    i++;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argIndex >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb, args[argIndex++], spec);
  }
  if (argIndex < args.length) {
    out += `%!(EXTRA ${args.slice(argIndex).map((a) => (a === null || a === NO_VALUE ? '<nil>' : `${goTypeName(a)}=${formatValue(a)}`)).join(', ')})`;
  }
  return out;
}

/** encoding/json's Encoder with SetEscapeHTML(false), as docker's "json" function uses. */
function goJson(value: Value): string {
  const text = JSON.stringify(value === NO_VALUE || value === undefined ? null : value) ?? 'null';
  return text.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

// ---------------------------------------------------------------------------------------------
// Functions

class CallError extends Error {}
/** Go reports argument conversion failures without the "error calling" prefix. */
class ArgumentTypeError extends Error {}

function expectString(value: Value): string {
  if (typeof value === 'string') return value;
  if (value === null || value === NO_VALUE) throw new ArgumentTypeError('invalid value; expected string');
  throw new ArgumentTypeError(`wrong type for value; expected string; got ${goTypeName(value)}`);
}

function expectInt(value: Value): number {
  if (isInt(value)) return value;
  if (value === null || value === NO_VALUE) throw new ArgumentTypeError('invalid value; expected int');
  throw new ArgumentTypeError(`wrong type for value; expected int; got ${goTypeName(value)}`);
}

function expectStringList(value: Value): string[] {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  if (value === null) return [];
  throw new ArgumentTypeError(`wrong type for value; expected []string; got ${goTypeName(value)}`);
}

function truth(value: Value): boolean {
  if (value === NO_VALUE || value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string' || Array.isArray(value)) return value.length > 0;
  if (isMap(value)) return Object.keys(value).length > 0;
  return true;
}

type BasicKind = 'bool' | 'number' | 'string' | 'nil' | 'other';
function basicKind(value: Value): BasicKind {
  if (value === null || value === undefined || value === NO_VALUE) return 'nil';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'string';
  return 'other';
}

function eq(first: Value, ...others: Value[]): boolean {
  if (others.length === 0) throw new CallError('missing argument for comparison');
  const k1 = basicKind(first);
  for (const other of others) {
    const k2 = basicKind(other);
    if (k1 !== k2) {
      if (k1 !== 'nil' && k2 !== 'nil') throw new CallError('incompatible types for comparison');
      continue;
    }
    if (k1 === 'other') throw new CallError(`non-comparable type ${formatValue(first)}: ${goTypeName(first)}`);
    if (first === other || k1 === 'nil') return true;
  }
  return false;
}

function lessThan(a: Value, b: Value): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'bool' || k1 === 'other' || k1 === 'nil' || k2 === 'bool' || k2 === 'other' || k2 === 'nil') {
    throw new CallError('invalid type for comparison');
  }
  if (k1 !== k2) throw new CallError('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function indexValue(item: Value, ...indexes: Value[]): Value {
  let current = item;
  for (const index of indexes) {
    if (current === null || current === NO_VALUE || current === undefined) throw new CallError('index of untyped nil');
    if (Array.isArray(current) || typeof current === 'string') {
      if (!isInt(index)) throw new CallError(`cannot index slice/array with type ${goTypeName(index)}`);
      const length = typeof current === 'string' ? utf8Length(current) : current.length;
      if (index < 0 || index >= length) throw new CallError(`index out of range: ${index}`);
      current = typeof current === 'string' ? Buffer.from(current, 'utf8')[index]! : current[index];
    } else if (isMap(current)) {
      if (index === null || index === NO_VALUE) throw new CallError('value is nil; should be string');
      if (typeof index !== 'string') throw new CallError(`value has type ${goTypeName(index)}; should be string`);
      const found: unknown = Object.prototype.hasOwnProperty.call(current, index) ? current[index] : undefined;
      // A missing key yields the map's zero element: docker's typed string maps (Labels, Options)
      // give "", anything else nil.
      const stringMap = Object.values(current).every((v) => typeof v === 'string');
      current = found !== undefined ? found : stringMap ? '' : null;
    } else {
      throw new CallError(`can't index item of type ${goTypeName(current)}`);
    }
  }
  return current;
}

function sliceValue(item: Value, ...indexes: Value[]): Value {
  if (item === null || item === NO_VALUE || item === undefined) throw new CallError('slice of untyped nil');
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  const bounds = indexes.map((index) => {
    if (!isInt(index)) throw new CallError(`cannot index slice/array with type ${goTypeName(index)}`);
    return index;
  });
  let length: number;
  let capacity: number;
  if (typeof item === 'string') {
    if (bounds.length === 3) throw new CallError('cannot 3-index slice a string');
    length = capacity = utf8Length(item);
  } else if (Array.isArray(item)) {
    length = capacity = item.length;
  } else {
    throw new CallError(`can't slice item of type ${goTypeName(item)}`);
  }
  const [low = 0, high = length] = bounds;
  for (const bound of bounds) {
    if (bound < 0 || bound > capacity) throw new CallError(`index out of range: ${bound}`);
  }
  if (low > high) throw new CallError(`invalid slice index: ${low} > ${high}`);
  if (bounds.length === 3 && high > bounds[2]!) throw new CallError(`invalid slice index: ${high} > ${bounds[2]}`);
  if (typeof item === 'string') return Buffer.from(item, 'utf8').subarray(low, high).toString('utf8');
  return item.slice(low, high);
}

function lengthOf(item: Value): number {
  if (item === null || item === NO_VALUE || item === undefined) throw new CallError('len of nil pointer');
  if (typeof item === 'string') return utf8Length(item);
  if (Array.isArray(item)) return item.length;
  if (isMap(item)) return Object.keys(item).filter((k) => item[k] !== undefined).length;
  throw new CallError(`len of type ${goTypeName(item)}`);
}

/** strings.Title: upper-case the first letter of each word. */
function title(text: string): string {
  let previous = ' ';
  let out = '';
  for (const c of text) {
    const separator = /^[A-Za-z0-9_]$/.test(previous)
      ? false
      : previous.charCodeAt(0) < 0x80
        ? true
        : !/[\p{L}\p{Nd}]/u.test(previous) && /\s/u.test(previous);
    out += separator ? c.toUpperCase() : c;
    previous = c;
  }
  return out;
}

function htmlEscape(text: string): string {
  return text.replace(/[<>&'"\0]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c]!);
}

function jsEscape(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (c === '\\') out += '\\\\';
    else if (c === "'") out += "\\'";
    else if (c === '"') out += '\\"';
    else if (c === '<') out += '\\u003C';
    else if (c === '>') out += '\\u003E';
    else if (c === '&') out += '\\u0026';
    else if (c === '=') out += '\\u003D';
    else if (code < 0x20) out += `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += c;
  }
  return out;
}

/** How the text/template "html", "js" and "urlquery" builtins turn their arguments into text. */
function evalArgs(args: Value[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return goSprint(args);
}

interface FunctionDef {
  /** Fixed parameter count, or minimum when variadic. */
  arity: number;
  variadic: boolean;
  call: (args: Value[]) => Value;
}

const fixed = (arity: number, call: (args: Value[]) => Value): FunctionDef => ({ arity, variadic: false, call });
const variadic = (arity: number, call: (args: Value[]) => Value): FunctionDef => ({ arity, variadic: true, call });

const BUILTINS: Record<string, FunctionDef> = {
  // and/or are evaluated lazily by the executor; these entries give arity and a fallback.
  and: variadic(1, (args) => args.find((a) => !truth(a)) ?? args[args.length - 1]),
  or: variadic(1, (args) => args.find((a) => truth(a)) ?? args[args.length - 1]),
  not: fixed(1, ([a]) => !truth(a)),
  len: fixed(1, ([a]) => lengthOf(a)),
  index: variadic(1, ([item, ...rest]) => indexValue(item, ...rest)),
  slice: variadic(1, ([item, ...rest]) => sliceValue(item, ...rest)),
  print: variadic(0, (args) => goSprint(args)),
  println: variadic(0, (args) => goSprintln(args)),
  printf: variadic(1, ([format, ...rest]) => goSprintf(expectString(format), rest)),
  html: variadic(0, (args) => htmlEscape(evalArgs(args))),
  js: variadic(0, (args) => jsEscape(evalArgs(args))),
  urlquery: variadic(0, (args) => encodeURIComponent(evalArgs(args)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)),
  eq: variadic(1, ([first, ...rest]) => eq(first, ...rest)),
  ne: fixed(2, ([a, b]) => !eq(a, b)),
  lt: fixed(2, ([a, b]) => lessThan(a, b)),
  le: fixed(2, ([a, b]) => lessThan(a, b) || eq(a, b)),
  gt: fixed(2, ([a, b]) => !lessThan(a, b) && !eq(a, b)),
  ge: fixed(2, ([a, b]) => !lessThan(a, b)),
  // The docker CLI's template functions (cli/templates).
  json: fixed(1, ([v]) => goJson(v)),
  split: fixed(2, ([s, sep]) => {
    const text = expectString(s);
    const separator = expectString(sep);
    return separator === '' ? [...text] : text.split(separator);
  }),
  join: fixed(2, ([list, sep]) => expectStringList(list).join(expectString(sep))),
  title: fixed(1, ([s]) => title(expectString(s))),
  lower: fixed(1, ([s]) => expectString(s).toLowerCase()),
  upper: fixed(1, ([s]) => expectString(s).toUpperCase()),
  pad: fixed(3, ([s, prefix, suffix]) => {
    const text = expectString(s);
    const before = expectInt(prefix);
    const after = expectInt(suffix);
    return text === '' ? text : ' '.repeat(Math.max(0, before)) + text + ' '.repeat(Math.max(0, after));
  }),
  truncate: fixed(2, ([s, n]) => {
    const text = expectString(s);
    const length = expectInt(n);
    return Buffer.byteLength(text) < length ? text : Buffer.from(text, 'utf8').subarray(0, length).toString('utf8');
  }),
};

/**
 * docker's HeaderFunctions: used when rendering a table's header row, so that functions applied
 * to columns leave the header text alone.
 */
export const HEADER_FUNCTIONS: Record<string, TemplateFunction> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  truncate: (v) => v,
};

// ---------------------------------------------------------------------------------------------
// Executor

class BreakSignal {}
class ContinueSignal {}

interface Variable {
  name: string;
  value: Value;
}

class Executor {
  private vars: Variable[] = [];
  private node: { pos: number; text: string } | undefined;
  private output = '';
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly name: string,
    private readonly definitions: Map<string, Node[]>,
    private readonly functions: Map<string, FunctionDef>,
    private readonly missingKey: TemplateOptions['missingKey'],
  ) {}

  run(root: Node[], data: Value): string {
    this.vars = [{ name: '$', value: data }];
    this.walkList(data, root);
    return this.output;
  }

  private fail(message: string): never {
    if (!this.node) throw new TemplateError(`template: ${this.name}: ${message}`);
    const before = this.source.slice(0, this.node.pos);
    const lastNewline = before.lastIndexOf('\n');
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const column = lastNewline === -1 ? this.node.pos : this.node.pos - (lastNewline + 1);
    let context = this.node.text;
    if (context.length > 20) context = `${context.slice(0, 20)}...`;
    throw new TemplateError(
      `template: ${this.name}:${line}:${column}: executing ${goQuote(this.name)} at <${context}>: ${message}`,
    );
  }

  private at(pos: number, text: string): void {
    this.node = { pos, text };
  }

  private walkList(dot: Value, list: Node[]): void {
    for (const node of list) this.walk(dot, node);
  }

  private walk(dot: Value, node: Node): void {
    switch (node.kind) {
      case 'text':
        this.output += node.text;
        return;
      case 'action': {
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.output += formatValue(value);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const value = this.evalPipeline(dot, node.pipe);
        if (truth(value)) this.walkList(node.kind === 'with' ? value : dot, node.list);
        else if (node.elseList) this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'template':
        this.walkTemplate(dot, node);
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  private walkRange(dot: Value, node: ControlNode): void {
    const outerMark = this.vars.length;
    const value = this.evalPipeline(dot, node.pipe);
    const mark = this.vars.length;
    const declared = node.pipe.decl;
    const iterate = (index: Value, element: Value): boolean => {
      if (declared.length > 0) {
        if (node.pipe.isAssign) this.setVar(declared[0]!, declared.length > 1 ? index : element);
        else this.vars[this.vars.length - 1]!.value = element;
      }
      if (declared.length > 1) {
        if (node.pipe.isAssign) this.setVar(declared[1]!, element);
        else this.vars[this.vars.length - 2]!.value = index;
      }
      try {
        this.walkList(element, node.list);
      } catch (signal) {
        if (signal instanceof BreakSignal) return false;
        if (!(signal instanceof ContinueSignal)) throw signal;
      } finally {
        this.vars.length = mark;
      }
      return true;
    };
    let ran = false;
    try {
      if (Array.isArray(value)) {
        ran = value.length > 0;
        for (let i = 0; i < value.length; i++) if (!iterate(i, value[i])) break;
      } else if (isMap(value)) {
        const keys = sortedKeys(value);
        ran = keys.length > 0;
        for (const key of keys) if (!iterate(key, value[key])) break;
      } else if (isInt(value)) {
        if (declared.length > 1) {
          this.at(node.pos, pipeString(node.pipe));
          this.fail(`can't use ${value} to iterate over more than one variable`);
        }
        ran = value > 0;
        for (let i = 0; i < value; i++) if (!iterate(i, i)) break;
      } else if (value !== null && value !== NO_VALUE && value !== undefined) {
        this.at(node.pos, pipeString(node.pipe));
        this.fail(`range can't iterate over ${formatValue(value)}`);
      }
      if (!ran && node.elseList) this.walkList(dot, node.elseList);
    } finally {
      this.vars.length = outerMark;
    }
  }

  private walkTemplate(dot: Value, node: Extract<Node, { kind: 'template' }>): void {
    const body = this.definitions.get(node.name);
    if (!body) {
      this.at(node.pos, `{{template ${goQuote(node.name)}}}`);
      this.fail(`template ${goQuote(node.name)} not defined`);
    }
    const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : null;
    if (++this.depth > 100000) this.fail('exceeded maximum template depth (100000)');
    const savedVars = this.vars;
    this.vars = [{ name: '$', value: newDot }];
    try {
      this.walkList(newDot, body);
    } finally {
      this.vars = savedVars;
      this.depth--;
    }
  }

  private setVar(name: string, value: Value): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.fail(`undefined variable: ${name}`);
  }

  private varValue(name: string): Value {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.fail(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: Value, pipe: PipeNode): Value {
    this.at(pipe.pos, pipeString(pipe));
    let value: Value = NO_VALUE;
    let final: Value | typeof MISSING_FINAL = MISSING_FINAL;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, final);
      final = value;
    }
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, value);
      else this.vars.push({ name, value });
    }
    return value;
  }

  private notAFunction(args: ArgNode[], final: Value): void {
    if (args.length > 1 || final !== MISSING_FINAL) this.fail(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  private evalCommand(dot: Value, cmd: CommandNode, final: Value): Value {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case 'field':
        this.at(first.pos, argString(first));
        return this.evalFieldChain(dot, dot, first.idents, cmd.args, final);
      case 'chain': {
        if (first.node.kind === 'nil') this.fail(`indirection through explicit nil in ${argString(first)}`);
        const receiver = this.evalArg(dot, first.node);
        this.at(first.pos, argString(first));
        return this.evalFieldChain(dot, receiver, first.fields, cmd.args, final);
      }
      case 'identifier':
        return this.evalFunction(dot, first, cmd, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case 'variable': {
        this.at(first.pos, argString(first));
        const value = this.varValue(first.idents[0]!);
        if (first.idents.length === 1) {
          this.notAFunction(cmd.args, final);
          return value;
        }
        return this.evalFieldChain(dot, value, first.idents.slice(1), cmd.args, final);
      }
      default:
        break;
    }
    this.at(first.pos, argString(first));
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.fail('nil is not a command');
      case 'number':
        return first.value;
      case 'string':
        return first.value;
    }
  }

  private evalFieldChain(dot: Value, receiver: Value, idents: string[], args: ArgNode[], final: Value): Value {
    let current = receiver;
    for (let i = 0; i < idents.length - 1; i++) current = this.evalField(dot, idents[i]!, [], MISSING_FINAL, current);
    return this.evalField(dot, idents[idents.length - 1]!, args, final, current);
  }

  private evalField(dot: Value, fieldName: string, args: ArgNode[], final: Value, receiver: Value): Value {
    if (receiver === NO_VALUE || receiver === undefined) {
      if (this.missingKey === 'error') this.fail(`nil data; no entry for key ${goQuote(fieldName)}`);
      return NO_VALUE;
    }
    if (receiver === null) this.fail(`nil pointer evaluating interface {}.${fieldName}`);
    if (isMap(receiver)) {
      const value = Object.prototype.hasOwnProperty.call(receiver, fieldName) ? receiver[fieldName] : undefined;
      // A formatter context's method with arguments, as {{.Label "name"}} on docker's ps and network ls rows.
      if (typeof value === 'function') {
        const callArgs = args.slice(1).map((arg) => this.evalArg(dot, arg));
        if (final !== MISSING_FINAL) callArgs.push(final);
        return (value as (...values: Value[]) => Value)(...callArgs);
      }
      if (args.length > 1 || final !== MISSING_FINAL) this.fail(`${fieldName} is not a method but has arguments`);
      if (value !== undefined) return value;
      switch (this.missingKey) {
        case 'zero':
          return null;
        case 'error':
          this.fail(`map has no entry for key ${goQuote(fieldName)}`);
        default:
          return NO_VALUE;
      }
    }
    this.fail(`can't evaluate field ${fieldName} in type ${goTypeName(receiver)}`);
  }

  private evalArg(dot: Value, node: ArgNode): Value {
    this.at(node.pos, argString(node));
    switch (node.kind) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'field':
        return this.evalFieldChain(dot, dot, node.idents, [node], MISSING_FINAL);
      case 'variable': {
        const value = this.varValue(node.idents[0]!);
        return node.idents.length === 1 ? value : this.evalFieldChain(dot, value, node.idents.slice(1), [node], MISSING_FINAL);
      }
      case 'pipe':
        return this.evalPipeline(dot, node.pipe);
      case 'identifier':
        return this.evalFunction(dot, node, { pos: node.pos, args: [node] }, MISSING_FINAL);
      case 'chain': {
        if (node.node.kind === 'nil') this.fail(`indirection through explicit nil in ${argString(node)}`);
        const receiver = this.evalArg(dot, node.node);
        this.at(node.pos, argString(node));
        return this.evalFieldChain(dot, receiver, node.fields, [node], MISSING_FINAL);
      }
      case 'bool':
      case 'number':
      case 'string':
        return node.value;
    }
  }

  private evalFunction(dot: Value, identifier: Extract<ArgNode, { kind: 'identifier' }>, cmd: CommandNode, final: Value): Value {
    this.at(identifier.pos, identifier.name);
    const name = identifier.name;
    const fn = this.functions.get(name);
    if (!fn) this.fail(`${goQuote(name)} is not a defined function`);
    const argNodes = cmd.args.slice(1);
    const count = argNodes.length + (final !== MISSING_FINAL ? 1 : 0);
    if (fn.variadic ? count < fn.arity : count !== fn.arity) {
      this.fail(`wrong number of args for ${name}: want ${fn.variadic ? 'at least ' : ''}${fn.arity} got ${count}`);
    }
    const lazy = (name === 'and' || name === 'or') && fn === BUILTINS[name];
    const args: Value[] = [];
    if (lazy) {
      const evaluate = (node: ArgNode | undefined): Value => (node ? this.evalArg(dot, node) : final);
      const total = argNodes.length + (final !== MISSING_FINAL ? 1 : 0);
      let value: Value = NO_VALUE;
      for (let i = 0; i < total; i++) {
        value = evaluate(argNodes[i]);
        if (truth(value) === (name === 'or')) return value;
      }
      return value;
    }
    for (const node of argNodes) args.push(this.evalArg(dot, node));
    if (final !== MISSING_FINAL) args.push(final);
    this.at(cmd.pos, commandString(cmd));
    try {
      // Go passes a missing value as nil to interface{} parameters.
      return normalizeResult(fn.call(args.map((a) => (a === NO_VALUE ? null : a))));
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      if (err instanceof ArgumentTypeError) this.fail(err.message);
      this.fail(`error calling ${name}: ${(err as Error).message}`);
    }
  }
}

/** Distinguishes "no previous pipeline stage" from a previous stage that produced <no value>. */
const MISSING_FINAL: unique symbol = Symbol('no final argument');

function normalizeResult(value: unknown): Value {
  return value === undefined ? NO_VALUE : value;
}

// ---------------------------------------------------------------------------------------------
// Public API

function buildFunctions(extra: Record<string, TemplateFunction> | undefined): Map<string, FunctionDef> {
  const functions = new Map<string, FunctionDef>(Object.entries(BUILTINS));
  for (const [name, fn] of Object.entries(extra ?? {})) {
    functions.set(name, {
      arity: fn.length,
      variadic: true,
      call: (args) => fn(...args.map((a) => (a === NO_VALUE ? null : a))),
    });
  }
  return functions;
}

/** Parse a Go template once; the returned function executes it against data. */
export function compileTemplate(source: string, options: TemplateOptions = {}): (data: unknown) => string {
  const name = options.name ?? '';
  const functions = buildFunctions(options.functions);
  const parsed = new Parser(lex(source), name, (fn) => functions.has(fn)).parse();
  return (data: unknown) =>
    new Executor(source, name, parsed.definitions, functions, options.missingKey).run(parsed.root, data);
}

export function renderTemplate(source: string, data: unknown, options: TemplateOptions = {}): string {
  return compileTemplate(source, options)(data);
}

/** docker's Format.IsTable: a --format starting with "table". */
export function isTableFormat(format: string): boolean {
  return format.startsWith('table');
}

/** Remove docker's leading "table" directive and the spaces around the rest. */
export function stripTable(format: string): string {
  return (isTableFormat(format) ? format.slice('table'.length) : format).replace(/^ +| +$/g, '');
}

/**
 * What docker's formatter does to a --format before parsing it: drop the "table" directive,
 * trim spaces, and turn the two-character sequences \t and \n into tab and newline.
 */
export function prepareFormat(format: string): string {
  return stripTable(format).replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}
