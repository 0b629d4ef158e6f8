/**
 * The subset of Go's `text/template` that Packer templates use: a lexer and parser that follow Go's
 * (text/template/parse) token by token, and an evaluator with Go's semantics for pipelines, truth, field
 * lookup, variables, `if`/`with`/`range` (with `else`, `else if`, `else with`, `break`, `continue`) and the
 * builtins `and or not len index slice eq ne lt le gt ge print printf println`.
 *
 * Not supported: `define`, `template`, `block` (a syntax error says so), methods on data, `call`, `html`,
 * `js`, `urlquery`, complex numbers. Fields are looked up with `missingkey=error` semantics, as Packer's
 * bundle commands need: a missing field or key is an error, never `<no value>`.
 *
 * The engine is safe on hostile input: any string either renders or throws {@link TemplateSyntaxError} /
 * {@link TemplateRenderError}. Templates are limited to {@link TEMPLATE_LIMITS}.maxTemplateLength characters,
 * {@link TEMPLATE_LIMITS}.maxDepth levels of nesting, {@link TEMPLATE_LIMITS}.maxOutputLength characters of
 * output (and of any intermediate string), and a budget of evaluation steps and characters processed, so
 * that rendering always finishes quickly. No `eval`; data fields are read as own properties only, so
 * `__proto__`, `constructor` or `prototype` never reach Object.prototype.
 */

import {
  FormatLimitError,
  formatValue,
  goQuote,
  goTypeName,
  isGoInt,
  isGoMap,
  mapEntries,
  sprint,
  sprintf,
  sprintln,
} from './go-fmt.js';

/** The template text is not a valid template (or calls a function that does not exist). */
export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
  /** 1-based line and column of the problem, when known. */
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(message: string, position?: { line: number; column: number }) {
    super(message);
    this.line = position?.line;
    this.column = position?.column;
  }
}

/** Rendering failed: a missing field, a failing function, a limit exceeded. */
export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';
}

export type TemplateFunction = (...args: unknown[]) => unknown;

/** Limits that keep rendering bounded on any input. */
export const TEMPLATE_LIMITS = {
  /** Longest template accepted, in characters (256 KiB). */
  maxTemplateLength: 256 * 1024,
  /** Deepest nesting of control structures and parentheses. */
  maxDepth: 100,
  /** Most operands in one command (a function and its arguments). */
  maxArguments: 1000,
  /** Longest output, and longest string any function may return, in characters (1 MiB). */
  maxOutputLength: 1024 * 1024,
  /** Evaluation steps (actions, commands, calls, loop iterations) per render. */
  maxSteps: 1_000_000,
  /** Characters passed to and returned from functions, summed over a render (64 MiB). */
  maxWork: 64 * 1024 * 1024,
} as const;

// ---------------------------------------------------------------------------------------------------------
// AST

export interface TextNode {
  readonly type: 'text';
  readonly pos: number;
  readonly text: string;
}
export interface ActionNode {
  readonly type: 'action';
  readonly pos: number;
  readonly pipe: PipeNode;
}
export interface BranchNode {
  readonly type: 'if' | 'with' | 'range';
  readonly pos: number;
  readonly pipe: PipeNode;
  readonly list: Node[];
  readonly elseList: Node[] | undefined;
}
export interface LoopControlNode {
  readonly type: 'break' | 'continue';
  readonly pos: number;
}
export type Node = TextNode | ActionNode | BranchNode | LoopControlNode;

export interface PipeNode {
  readonly type: 'pipe';
  readonly pos: number;
  /** Variables declared (`$x :=`) or assigned (`$x =`) by this pipeline. */
  readonly decl: string[];
  isAssign: boolean;
  readonly cmds: CommandNode[];
}
export interface CommandNode {
  readonly pos: number;
  readonly args: Operand[];
}
export type Operand =
  | { readonly type: 'field'; readonly pos: number; readonly idents: string[] }
  | { readonly type: 'variable'; readonly pos: number; readonly name: string; readonly idents: string[] }
  | { readonly type: 'chain'; readonly pos: number; readonly node: Operand; readonly idents: string[] }
  | { readonly type: 'identifier'; readonly pos: number; readonly name: string }
  | { readonly type: 'dot'; readonly pos: number }
  | { readonly type: 'nil'; readonly pos: number }
  | { readonly type: 'bool'; readonly pos: number; readonly value: boolean }
  | { readonly type: 'number'; readonly pos: number; readonly value: number; readonly text: string }
  | { readonly type: 'string'; readonly pos: number; readonly value: string }
  | PipeNode;

export interface ParsedTemplate {
  readonly source: string;
  readonly root: readonly Node[];
}

// ---------------------------------------------------------------------------------------------------------
// Positions and messages

export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = source.indexOf('\n'); i >= 0 && i < offset; i = source.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function syntaxError(source: string, message: string, offset: number): TemplateSyntaxError {
  const position = positionOf(source, offset);
  const where = source.includes('\n')
    ? `line ${position.line} col ${position.column}`
    : `col ${position.column}`;
  return new TemplateSyntaxError(`template: ${message} at ${where}`, position);
}

/** A value quoted for an error message, shortened so that messages stay readable. */
function brief(value: string): string {
  const chars = [...value.slice(0, 80)];
  return chars.length > 40 ? `${goQuote(chars.slice(0, 40).join(''))}...` : goQuote(value);
}

/** A name shortened for an error message. */
function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}...` : value;
}

/** Go's `%#U`: `U+002D '-'`. */
function describeRune(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')} '${char}'`;
}

// ---------------------------------------------------------------------------------------------------------
// Lexer (a port of text/template/parse/lex.go with the default delimiters)

type TokenType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'identifier'
  | 'field'
  | 'dot'
  | 'variable'
  | 'string'
  | 'rawString'
  | 'charConstant'
  | 'number'
  | 'complex'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'char'
  | 'keyword'
  | 'eof'
  | 'error';

interface Token {
  readonly type: TokenType;
  readonly value: string;
  readonly pos: number;
}

const KEYWORDS = new Set([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'template',
  'with',
]);

const ALPHANUMERIC = /^[\p{L}\p{Nd}_]$/u;
const PRINTABLE_ASCII = /^[\x21-\x7e]$/;

function isSpaceChar(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\r' || char === '\n';
}

function isAlphaNumeric(char: string | undefined): boolean {
  return char !== undefined && ALPHANUMERIC.test(char);
}

function hasLeftTrimMarker(input: string, at: number): boolean {
  return input[at] === '-' && isSpaceChar(input[at + 1]);
}

function hasRightTrimMarker(input: string, at: number): boolean {
  return isSpaceChar(input[at]) && input[at + 1] === '-';
}

class Lexer {
  private readonly tokens: Token[] = [];
  private pos = 0;
  private start = 0;
  private parenDepth = 0;

  constructor(private readonly input: string) {}

  run(): Token[] {
    try {
      while (this.pos < this.input.length) this.lexText();
      this.tokens.push({ type: 'eof', value: '', pos: this.input.length });
    } catch (error) {
      if (!(error instanceof LexFailure)) throw error;
      this.tokens.push({ type: 'error', value: error.message, pos: error.pos });
    }
    return this.tokens;
  }

  private fail(message: string, at = this.start): never {
    throw new LexFailure(message, at);
  }

  private emit(type: TokenType, value = this.input.slice(this.start, this.pos)): void {
    this.tokens.push({ type, value, pos: this.start });
    this.start = this.pos;
  }

  /** The character (full code point) at `at`. */
  private charAt(at: number): string | undefined {
    const code = this.input.codePointAt(at);
    return code === undefined ? undefined : String.fromCodePoint(code);
  }

  private next(): string | undefined {
    const char = this.charAt(this.pos);
    if (char !== undefined) this.pos += char.length;
    return char;
  }

  private peek(): string | undefined {
    return this.charAt(this.pos);
  }

  private atRightDelim(): { delim: boolean; trim: boolean } {
    if (hasRightTrimMarker(this.input, this.pos) && this.input.startsWith('}}', this.pos + 2)) {
      return { delim: true, trim: true };
    }
    return { delim: this.input.startsWith('}}', this.pos), trim: false };
  }

  private skipLeadingSpace(): void {
    while (isSpaceChar(this.input[this.pos])) this.pos++;
  }

  private lexText(): void {
    const open = this.input.indexOf('{{', this.pos);
    if (open < 0) {
      this.pos = this.input.length;
      this.emit('text');
      return;
    }
    const trim = hasLeftTrimMarker(this.input, open + 2);
    let end = open;
    if (trim) while (end > this.start && isSpaceChar(this.input[end - 1])) end--;
    if (end > this.start)
      this.tokens.push({ type: 'text', value: this.input.slice(this.start, end), pos: this.start });
    this.start = open;
    this.pos = open + 2;
    const afterMarker = this.pos + (trim ? 2 : 0);
    if (this.input.startsWith('/*', afterMarker)) {
      this.lexComment(afterMarker);
      return;
    }
    this.emit('leftDelim', '{{');
    this.pos = afterMarker;
    this.start = this.pos;
    this.parenDepth = 0;
    this.lexInsideAction();
  }

  private lexComment(commentStart: number): void {
    const close = this.input.indexOf('*/', commentStart + 2);
    if (close < 0) this.fail('unclosed comment');
    this.pos = close + 2;
    const { delim, trim } = this.atRightDelim();
    if (!delim) this.fail('comment ends before closing delimiter');
    this.pos += (trim ? 2 : 0) + 2;
    if (trim) this.skipLeadingSpace();
    this.start = this.pos;
  }

  private lexInsideAction(): void {
    for (;;) {
      const { delim, trim } = this.atRightDelim();
      if (delim) {
        if (this.parenDepth > 0) this.fail('unclosed left paren');
        if (trim) this.pos += 2;
        this.start = this.pos;
        this.pos += 2;
        this.emit('rightDelim', '}}');
        if (trim) this.skipLeadingSpace();
        this.start = this.pos;
        return;
      }
      const char = this.next();
      if (char === undefined) this.fail('unclosed action');
      if (isSpaceChar(char)) {
        this.pos--;
        this.lexSpace();
        continue;
      }
      switch (char) {
        case '=':
          this.emit('assign');
          continue;
        case ':':
          if (this.next() !== '=') this.fail('expected :=');
          this.emit('declare');
          continue;
        case '|':
          this.emit('pipe');
          continue;
        case '"':
          this.lexQuote();
          continue;
        case '`':
          this.lexRawQuote();
          continue;
        case '$':
          this.lexFieldOrVariable('variable');
          continue;
        case "'":
          this.lexChar();
          continue;
        case '(':
          this.emit('leftParen');
          this.parenDepth++;
          continue;
        case ')':
          this.emit('rightParen');
          this.parenDepth--;
          if (this.parenDepth < 0) this.fail('unexpected right paren');
          continue;
      }
      if (char === '.') {
        const following = this.input[this.pos];
        if (following === undefined || following < '0' || following > '9') {
          this.lexFieldOrVariable('field');
          continue;
        }
      }
      if (char === '.' || char === '+' || char === '-' || (char >= '0' && char <= '9')) {
        this.pos--;
        this.lexNumber();
        continue;
      }
      if (isAlphaNumeric(char)) {
        this.pos -= char.length;
        this.lexIdentifier();
        continue;
      }
      if (PRINTABLE_ASCII.test(char)) {
        this.emit('char');
        continue;
      }
      this.fail(`unrecognized character in action: ${describeRune(char)}`);
    }
  }

  private lexSpace(): void {
    let spaces = 0;
    while (isSpaceChar(this.input[this.pos])) {
      this.pos++;
      spaces++;
    }
    // A space followed by `-}}` belongs to the trim marker.
    if (hasRightTrimMarker(this.input, this.pos - 1) && this.input.startsWith('}}', this.pos + 1)) {
      this.pos--;
      if (spaces === 1) return;
    }
    this.emit('space');
  }

  private atTerminator(): boolean {
    const char = this.input[this.pos];
    if (char === undefined || isSpaceChar(char)) return true;
    if ('.,|:)('.includes(char)) return true;
    return this.input.startsWith('}}', this.pos);
  }

  private lexIdentifier(): void {
    while (isAlphaNumeric(this.peek())) this.next();
    if (!this.atTerminator()) this.fail(`bad character ${describeRune(this.peek()!)}`, this.pos);
    const word = this.input.slice(this.start, this.pos);
    if (KEYWORDS.has(word)) this.emit('keyword');
    else if (word === 'nil') this.emit('nil');
    else if (word === 'true' || word === 'false') this.emit('bool');
    else this.emit('identifier');
  }

  private lexFieldOrVariable(type: 'field' | 'variable'): void {
    if (this.atTerminator()) {
      this.emit(type === 'variable' ? 'variable' : 'dot');
      return;
    }
    while (isAlphaNumeric(this.peek())) this.next();
    if (!this.atTerminator()) this.fail(`bad character ${describeRune(this.peek()!)}`, this.pos);
    this.emit(type);
  }

  private lexChar(): void {
    for (;;) {
      const char = this.next();
      if (char === '\\') {
        const escaped = this.next();
        if (escaped !== undefined && escaped !== '\n') continue;
      }
      if (char === undefined || char === '\n' || char === '\\') this.fail('unterminated character constant');
      if (char === "'") break;
    }
    this.emit('charConstant');
  }

  private lexQuote(): void {
    for (;;) {
      const char = this.next();
      if (char === '\\') {
        const escaped = this.next();
        if (escaped !== undefined && escaped !== '\n') continue;
      }
      if (char === undefined || char === '\n' || char === '\\') this.fail('unterminated quoted string');
      if (char === '"') break;
    }
    this.emit('string');
  }

  private lexRawQuote(): void {
    const close = this.input.indexOf('`', this.pos);
    if (close < 0) this.fail('unterminated raw quoted string');
    this.pos = close + 1;
    this.emit('rawString');
  }

  private accept(valid: string): boolean {
    const char = this.input[this.pos];
    if (char !== undefined && valid.includes(char)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private acceptRun(valid: string): void {
    while (this.accept(valid)) {
      // absorb
    }
  }

  /** Go's scanNumber: lexically a number, validated later by the parser. */
  private scanNumber(): boolean {
    this.accept('+-');
    let digits = '0123456789_';
    if (this.accept('0')) {
      if (this.accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (this.accept('oO')) digits = '01234567_';
      else if (this.accept('bB')) digits = '01_';
    }
    this.acceptRun(digits);
    if (this.accept('.')) this.acceptRun(digits);
    if (digits.length === 11 && this.accept('eE')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    if (digits.length === 23 && this.accept('pP')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    this.accept('i');
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }

  private lexNumber(): void {
    if (!this.scanNumber()) this.fail(`bad number syntax: ${brief(this.input.slice(this.start, this.pos))}`);
    const sign = this.input[this.pos];
    if (sign === '+' || sign === '-') {
      // Go's complex constants: `1+2i`, no spaces.
      if (!this.scanNumber() || this.input[this.pos - 1] !== 'i') {
        this.fail(`bad number syntax: ${brief(this.input.slice(this.start, this.pos))}`);
      }
      this.emit('complex');
      return;
    }
    this.emit('number');
  }
}

class LexFailure extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Literals: Go string, character and number syntax

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7,
  b: 8,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
  '\\': 92,
  "'": 39,
  '"': 34,
};

/**
 * Go's strconv.Unquote for a double-quoted literal or a character constant (body without the quotes).
 * Works on UTF-8 bytes because `\x` and octal escapes produce bytes; the result is decoded as UTF-8.
 * Returns an error message instead of throwing.
 */
function unquoteGo(body: string, quote: '"' | "'"): { value: string; runes: number } | { error: string } {
  if (!body.includes('\\') && !body.includes(quote)) return { value: body, runes: [...body].length };
  const bytes: number[] = [];
  let runes = 0;
  const utf8 = (code: number) => {
    if (code < 0x80) bytes.push(code);
    else for (const byte of Buffer.from(String.fromCodePoint(code), 'utf8')) bytes.push(byte);
  };
  for (let i = 0; i < body.length; ) {
    const code = body.codePointAt(i)!;
    const char = String.fromCodePoint(code);
    i += char.length;
    runes++;
    if (char !== '\\') {
      if (char === quote) return { error: `unescaped ${quote} in quoted literal` };
      utf8(code);
      continue;
    }
    const escaped = body[i];
    i++;
    if (escaped === undefined) return { error: 'unterminated escape sequence' };
    if (
      Object.hasOwn(SIMPLE_ESCAPES, escaped) &&
      (escaped !== "'" || quote === "'") &&
      (escaped !== '"' || quote === '"')
    ) {
      bytes.push(SIMPLE_ESCAPES[escaped]!);
      continue;
    }
    const hexLength = escaped === 'x' ? 2 : escaped === 'u' ? 4 : escaped === 'U' ? 8 : 0;
    if (hexLength > 0) {
      const hex = body.slice(i, i + hexLength);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== hexLength) {
        return { error: `invalid escape sequence \\${escaped}${hex}` };
      }
      i += hexLength;
      const value = Number.parseInt(hex, 16);
      if (escaped === 'x') {
        if (quote === "'") utf8(value);
        else bytes.push(value);
      } else if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
        return { error: `invalid escape sequence \\${escaped}${hex}: not a valid Unicode code point` };
      } else utf8(value);
      continue;
    }
    if (escaped >= '0' && escaped <= '7') {
      const octal = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(octal) || Number.parseInt(octal, 8) > 255) {
        return { error: `invalid escape sequence \\${octal}` };
      }
      i += 2;
      const value = Number.parseInt(octal, 8);
      if (quote === "'") utf8(value);
      else bytes.push(value);
      continue;
    }
    return { error: `invalid escape sequence \\${escaped}` };
  }
  return { value: new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array(bytes)), runes };
}

/** Parses a Go integer or float literal; undefined when Go would reject it. */
function parseGoNumber(text: string): { value: number; isInt: boolean } | undefined {
  let body = text;
  let negative = false;
  if (body.startsWith('+') || body.startsWith('-')) {
    negative = body.startsWith('-');
    body = body.slice(1);
  }
  // Underscores only between digits (or after a base prefix), as strconv requires.
  const validUnderscores = (digits: string) => !/(^_|_$|__|_\.|\._|_[eEpP]|[eEpP][+-]?_)/.test(digits);
  let value: number | undefined;
  let isInt = true;
  const prefixed = /^0([xXoObB])(.*)$/.exec(body);
  if (prefixed) {
    const digits = prefixed[2]!;
    const base = { x: 16, o: 8, b: 2 }[prefixed[1]!.toLowerCase() as 'x' | 'o' | 'b'];
    const pattern =
      base === 16
        ? /^_?[0-9a-fA-F](_?[0-9a-fA-F])*$/
        : base === 8
          ? /^_?[0-7](_?[0-7])*$/
          : /^_?[01](_?[01])*$/;
    if (!pattern.test(digits)) return undefined;
    value = Number.parseInt(digits.replaceAll('_', ''), base);
  } else if (/^[0-9_]+$/.test(body)) {
    if (!validUnderscores(body)) return undefined;
    const digits = body.replaceAll('_', '');
    // A leading 0 means octal; Go's parser falls back to reading `09` as the float 9, an integer again.
    if (digits.length > 1 && digits.startsWith('0') && /^[0-7]+$/.test(digits))
      value = Number.parseInt(digits, 8);
    else value = Number.parseInt(digits, 10);
  } else if (/^([0-9_]+\.?[0-9_]*|\.[0-9_]+)([eE][+-]?[0-9_]+)?$/.test(body)) {
    if (!validUnderscores(body)) return undefined;
    value = Number(body.replaceAll('_', ''));
    isInt = false;
    if (!Number.isFinite(value)) return undefined;
  } else return undefined;
  if (isInt && !Number.isSafeInteger(value)) return undefined;
  return { value: negative ? -value : value, isInt };
}

// ---------------------------------------------------------------------------------------------------------
// Variables

/** A stack of variables where the innermost of a name is found in O(1), however many are declared. */
class VariableScope<T> {
  private readonly entries: { readonly name: string; value: T }[] = [];
  private readonly byName = new Map<string, number[]>();

  get size(): number {
    return this.entries.length;
  }

  push(name: string, value: T): void {
    let positions = this.byName.get(name);
    if (!positions) {
      positions = [];
      this.byName.set(name, positions);
    }
    positions.push(this.entries.length);
    this.entries.push({ name, value });
  }

  truncate(size: number): void {
    while (this.entries.length > size) {
      const entry = this.entries.pop()!;
      this.byName.get(entry.name)!.pop();
    }
  }

  /** The innermost variable of that name. */
  find(name: string): { value: T } | undefined {
    const positions = this.byName.get(name);
    const position = positions?.[positions.length - 1];
    return position === undefined ? undefined : this.entries[position];
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /** The variable at a position, counted from the bottom of the stack. */
  at(position: number): { value: T } {
    return this.entries[position]!;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parser (a port of text/template/parse/parse.go)

type ListEnd = { type: 'end'; pos: number } | { type: 'else'; pos: number };

const OPERAND_START = new Set<TokenType>([
  'bool',
  'charConstant',
  'complex',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'leftParen',
]);

/** How Go prints a token in "unexpected …" messages. */
function describeToken(token: Token): string {
  if (token.type === 'eof') return 'EOF';
  if (token.type === 'error') return token.value;
  if (token.type === 'keyword' || token.type === 'nil' || token.type === 'dot') return `<${token.value}>`;
  const chars = [...token.value];
  if (chars.length > 10) return `${goQuote(chars.slice(0, 10).join(''))}...`;
  return goQuote(token.value);
}

class Parser {
  private index = 0;
  private readonly vars = new VariableScope<true>();
  private rangeDepth = 0;
  private depth = 0;
  private lastPos = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
  ) {
    this.vars.push('$', true);
  }

  parse(): Node[] {
    const list: Node[] = [];
    while (this.peek().type !== 'eof') {
      const node = this.textOrAction();
      if (node.type === 'end' || node.type === 'else') this.fail(`unexpected {{${node.type}}}`, node.pos);
      list.push(node);
    }
    return list;
  }

  private fail(message: string, pos = this.lastPos): never {
    throw syntaxError(this.source, message, pos);
  }

  private next(): Token {
    const token = this.tokens[this.index] ?? this.tokens[this.tokens.length - 1]!;
    if (token.type === 'error') this.fail(token.value, token.pos);
    this.index++;
    this.lastPos = token.pos;
    return token;
  }

  private backup(): void {
    this.index--;
  }

  private peek(): Token {
    const token = this.next();
    this.backup();
    return token;
  }

  private nextNonSpace(): Token {
    let token = this.next();
    while (token.type === 'space') token = this.next();
    return token;
  }

  private peekNonSpace(): Token {
    const token = this.nextNonSpace();
    this.backup();
    return token;
  }

  private unexpected(token: Token, context: string): never {
    if (token.type === 'error') this.fail(token.value, token.pos);
    this.fail(`unexpected ${describeToken(token)} in ${context}`, token.pos);
  }

  private expect(type: TokenType, context: string): Token {
    const token = this.nextNonSpace();
    if (token.type !== type) this.unexpected(token, context);
    return token;
  }

  private enter(pos: number): void {
    this.depth++;
    if (this.depth > TEMPLATE_LIMITS.maxDepth) {
      this.fail(`template nests deeper than ${TEMPLATE_LIMITS.maxDepth} levels`, pos);
    }
  }

  private textOrAction(): Node | ListEnd {
    const token = this.nextNonSpace();
    if (token.type === 'text') return { type: 'text', pos: token.pos, text: token.value };
    if (token.type === 'leftDelim') return this.action();
    this.unexpected(token, 'input');
  }

  private action(): Node | ListEnd {
    const token = this.nextNonSpace();
    if (token.type === 'keyword') {
      switch (token.value) {
        case 'block':
        case 'define':
        case 'template':
          this.fail(`{{${token.value}}} is not supported`, token.pos);
          break;
        case 'break':
        case 'continue':
          return this.loopControl(token);
        case 'else':
          return this.elseControl(token);
        case 'end':
          this.expect('rightDelim', 'end');
          return { type: 'end', pos: token.pos };
        case 'if':
        case 'range':
        case 'with':
          return this.control(token.value, token.pos);
      }
    }
    this.backup();
    return { type: 'action', pos: token.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(token: Token): LoopControlNode {
    this.expect('rightDelim', `{{${token.value}}}`);
    if (this.rangeDepth === 0) this.fail(`{{${token.value}}} outside {{range}}`, token.pos);
    return { type: token.value as 'break' | 'continue', pos: token.pos };
  }

  private elseControl(token: Token): ListEnd {
    const peek = this.peekNonSpace();
    // `{{else if …}}` and `{{else with …}}` are `{{else}}{{if …}}…`, ended by the one `{{end}}`.
    if (peek.type === 'keyword' && (peek.value === 'if' || peek.value === 'with')) {
      return { type: 'else', pos: token.pos };
    }
    this.expect('rightDelim', 'else');
    return { type: 'else', pos: token.pos };
  }

  private control(context: 'if' | 'range' | 'with', pos: number): BranchNode {
    this.enter(pos);
    const varsMark = this.vars.size;
    const pipe = this.pipeline(context, 'rightDelim');
    if (context === 'range') this.rangeDepth++;
    let [list, end] = this.itemList();
    if (context === 'range') this.rangeDepth--;
    let elseList: Node[] | undefined;
    if (end.type === 'else') {
      const peek = this.peek();
      if (context !== 'range' && peek.type === 'keyword' && peek.value === context) {
        const chained = this.next();
        elseList = [this.control(context, chained.pos)];
      } else {
        [elseList, end] = this.itemList();
        if (end.type !== 'end') this.fail(`expected end; found {{${end.type}}}`, end.pos);
      }
    }
    this.vars.truncate(varsMark);
    this.depth--;
    return { type: context, pos, pipe, list, elseList };
  }

  private itemList(): [Node[], ListEnd] {
    const list: Node[] = [];
    while (this.peekNonSpace().type !== 'eof') {
      const node = this.textOrAction();
      if (node.type === 'end' || node.type === 'else') return [list, node];
      list.push(node);
    }
    this.fail('unexpected EOF', this.source.length);
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const pipe: PipeNode = {
      type: 'pipe',
      pos: this.peekNonSpace().pos,
      decl: [],
      isAssign: false,
      cmds: [],
    };
    for (;;) {
      const mark = this.index;
      const variable = this.peekNonSpace();
      if (variable.type !== 'variable') break;
      this.nextNonSpace();
      const afterVariable = this.peekNonSpace();
      if (afterVariable.type === 'assign' || afterVariable.type === 'declare') {
        pipe.isAssign = afterVariable.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(variable.value);
        this.vars.push(variable.value, true);
        break;
      }
      if (afterVariable.type === 'char' && afterVariable.value === ',') {
        this.nextNonSpace();
        pipe.decl.push(variable.value);
        this.vars.push(variable.value, true);
        if (context === 'range' && pipe.decl.length < 2) {
          const following = this.peekNonSpace().type;
          if (following === 'variable' || following === 'rightDelim' || following === 'rightParen') continue;
          this.fail('range can only initialize variables');
        }
        this.fail(`too many declarations in ${context}`);
      }
      this.index = mark;
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      if (token.type === end) {
        this.checkPipeline(pipe, context, token.pos);
        return pipe;
      }
      if (!OPERAND_START.has(token.type)) this.unexpected(token, context);
      this.backup();
      pipe.cmds.push(this.command());
      if (this.tokens[this.index - 1]?.type === 'pipe' && this.peekNonSpace().type === end) {
        this.fail('missing command after |', this.peekNonSpace().pos);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string, pos: number): void {
    if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, pos);
    pipe.cmds.forEach((cmd, index) => {
      const first = cmd.args[0]!;
      if (index > 0 && ['bool', 'dot', 'nil', 'number', 'string'].includes(first.type)) {
        this.fail(`non executable command in pipeline stage ${index + 1}`, first.pos);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      if (cmd.args.length > TEMPLATE_LIMITS.maxArguments) {
        this.fail(`command has more than ${TEMPLATE_LIMITS.maxArguments} operands`, operand?.pos);
      }
      const token = this.next();
      if (token.type === 'space') continue;
      if (token.type === 'rightDelim' || token.type === 'rightParen') this.backup();
      else if (token.type !== 'pipe') this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command', cmd.pos);
    return cmd;
  }

  private operand(): Operand | undefined {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    const idents: string[] = [];
    while (this.peek().type === 'field') idents.push(this.next().value.slice(1));
    switch (node.type) {
      case 'field':
      case 'variable':
        // A loop, not push(...idents): a long chain would exceed the engine's argument limit.
        for (const ident of idents) node.idents.push(ident);
        return node;
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.fail(`unexpected . after term ${brief(operandText(node))}`, node.pos);
        break;
      default:
        return { type: 'chain', pos: node.pos, node, idents };
    }
  }

  private term(): Operand | undefined {
    const token = this.nextNonSpace();
    const pos = token.pos;
    switch (token.type) {
      case 'identifier':
        return { type: 'identifier', pos, name: token.value };
      case 'dot':
        return { type: 'dot', pos };
      case 'nil':
        return { type: 'nil', pos };
      case 'variable':
        if (!this.vars.has(token.value)) this.fail(`undefined variable ${brief(token.value)}`, pos);
        return { type: 'variable', pos, name: token.value, idents: [] };
      case 'field':
        return { type: 'field', pos, idents: [token.value.slice(1)] };
      case 'bool':
        return { type: 'bool', pos, value: token.value === 'true' };
      case 'complex':
        this.fail(`complex numbers are not supported: ${brief(token.value)}`, pos);
        break;
      case 'charConstant': {
        const unquoted = unquoteGo(token.value.slice(1, -1), "'");
        if ('error' in unquoted || unquoted.runes !== 1) {
          this.fail(`malformed character constant: ${brief(token.value)}`, pos);
        }
        return { type: 'number', pos, value: unquoted.value.codePointAt(0)!, text: token.value };
      }
      case 'number': {
        const number = parseGoNumber(token.value);
        if (!number) this.fail(`illegal number syntax: ${brief(token.value)}`, pos);
        return { type: 'number', pos, value: number.value, text: token.value };
      }
      case 'leftParen': {
        this.enter(pos);
        const pipe = this.pipeline('parenthesized pipeline', 'rightParen');
        this.depth--;
        return pipe;
      }
      case 'string': {
        const unquoted = unquoteGo(token.value.slice(1, -1), '"');
        if ('error' in unquoted) this.fail(`${unquoted.error} in string ${describeToken(token)}`, pos);
        return { type: 'string', pos, value: unquoted.value };
      }
      case 'rawString':
        return { type: 'string', pos, value: token.value.slice(1, -1).replaceAll('\r', '') };
    }
    this.backup();
    return undefined;
  }
}

function operandText(node: Operand): string {
  switch (node.type) {
    case 'bool':
      return String(node.value);
    case 'string':
      return goQuote(node.value);
    case 'number':
      return node.text;
    case 'nil':
      return 'nil';
    case 'dot':
      return '.';
    case 'field':
      return `.${node.idents.join('.')}`;
    case 'variable':
      return [node.name, ...node.idents].join('.');
    case 'identifier':
      return node.name;
    case 'chain':
      return `${operandText(node.node)}.${node.idents.join('.')}`;
    case 'pipe':
      return `(${node.cmds.map((cmd) => cmd.args.map(operandText).join(' ')).join(' | ')})`;
  }
}

/**
 * Parses a template.
 *
 * @throws TemplateSyntaxError whose message says what is wrong and where, e.g.
 *   `template: unexpected "}" in operand at col 12` (`line L col C` when the template has several lines).
 */
export function parseTemplate(source: string): ParsedTemplate {
  if (typeof source !== 'string') throw new TemplateSyntaxError('template: the template is not a string');
  if (source.length > TEMPLATE_LIMITS.maxTemplateLength) {
    throw new TemplateSyntaxError(
      `template: the template is ${source.length} characters long; the limit is ${TEMPLATE_LIMITS.maxTemplateLength}`,
    );
  }
  if (isPlainText(source))
    return { source, root: source === '' ? [] : [{ type: 'text', pos: 0, text: source }] };
  const tokens = new Lexer(source).run();
  return { source, root: new Parser(source, tokens).parse() };
}

/** True when the text has no `{{` at all, so it renders as itself. */
export function isPlainText(source: string): boolean {
  return !source.includes('{{');
}

// ---------------------------------------------------------------------------------------------------------
// Static analysis

function walkOperands(
  nodes: readonly Node[],
  visit: (operand: Operand, dotPath: string | undefined) => void,
): void {
  const visitPipe = (pipe: PipeNode, dotPath: string | undefined) => {
    for (const cmd of pipe.cmds) for (const arg of cmd.args) visitOperand(arg, dotPath);
  };
  const visitOperand = (operand: Operand, dotPath: string | undefined) => {
    visit(operand, dotPath);
    if (operand.type === 'pipe') visitPipe(operand, dotPath);
    if (operand.type === 'chain') visitOperand(operand.node, dotPath);
  };
  const visitList = (list: readonly Node[], dotPath: string | undefined) => {
    for (const node of list) {
      switch (node.type) {
        case 'action':
          visitPipe(node.pipe, dotPath);
          break;
        case 'if':
        case 'with':
        case 'range': {
          visitPipe(node.pipe, dotPath);
          let inner = dotPath;
          if (node.type === 'with') inner = pipeFieldPath(node.pipe, dotPath);
          if (node.type === 'range') inner = undefined;
          visitList(node.list, inner);
          if (node.elseList) visitList(node.elseList, dotPath);
          break;
        }
      }
    }
  };
  visitList(nodes, '');
}

/** The data path a `with` pipeline stands for, when it is a lone field (`with .A.B` → `A.B`). */
function pipeFieldPath(pipe: PipeNode, dotPath: string | undefined): string | undefined {
  const only = pipe.cmds.length === 1 ? pipe.cmds[0]!.args : [];
  if (only.length !== 1) return undefined;
  const operand = only[0]!;
  if (operand.type === 'dot') return dotPath;
  if (operand.type === 'field' && dotPath !== undefined) return joinPath(dotPath, operand.idents);
  if (operand.type === 'variable' && operand.name === '$') return joinPath('', operand.idents);
  return undefined;
}

function joinPath(base: string, idents: readonly string[]): string {
  return [base, ...idents].filter((part) => part !== '').join('.');
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * Field paths of the data that the template reads, relative to the root data, in order of first use:
 * `.AccountId` → `AccountId`, `.SourceAMITags.Name` → `SourceAMITags.Name`, `.` → `''`, `$.X` → `X`.
 * Inside `{{with .A}}` a `.B` is `A.B`. Paths that cannot be known statically are left out: fields read
 * inside a `range` body, fields of variables other than `$`, and fields of function results.
 */
export function referencedFields(template: ParsedTemplate): string[] {
  const paths: string[] = [];
  walkOperands(template.root, (operand, dotPath) => {
    if (operand.type === 'variable' && operand.name === '$') paths.push(joinPath('', operand.idents));
    if (dotPath === undefined) return;
    if (operand.type === 'field') paths.push(joinPath(dotPath, operand.idents));
    else if (operand.type === 'dot') paths.push(dotPath);
  });
  return unique(paths);
}

/**
 * Names of the functions the template calls (identifiers in command position, after `|`, or as arguments),
 * in order of first use, EXCLUDING the engine's builtins ({@link BUILTIN_FUNCTIONS}).
 */
export function referencedFunctions(template: ParsedTemplate): string[] {
  const names: string[] = [];
  walkOperands(template.root, (operand) => {
    if (operand.type === 'identifier' && !BUILTIN_NAMES.has(operand.name)) names.push(operand.name);
  });
  return unique(names);
}

/**
 * The literal names passed to `user`: `{{user "a"}}`, ``{{ user `b` }}`` and `{{ "c" | user }}` →
 * `['a', 'b', 'c']`, in order of first use. Names computed at render time are not included.
 */
export function referencedUserVariables(template: ParsedTemplate): string[] {
  const names: string[] = [];
  const visitOperand = (operand: Operand) => {
    if (operand.type === 'pipe') visitPipe(operand);
    if (operand.type === 'chain') visitOperand(operand.node);
  };
  const visitPipe = (pipe: PipeNode) => {
    pipe.cmds.forEach((cmd, index) => {
      const [first, second] = cmd.args;
      if (first?.type === 'identifier' && first.name === 'user') {
        const previous = pipe.cmds[index - 1]?.args;
        if (second?.type === 'string') names.push(second.value);
        else if (second === undefined && previous?.length === 1 && previous[0]!.type === 'string') {
          names.push(previous[0]!.value);
        }
      }
      cmd.args.forEach(visitOperand);
    });
  };
  const visitList = (list: readonly Node[]) => {
    for (const node of list) {
      if (node.type === 'action') visitPipe(node.pipe);
      if (node.type === 'if' || node.type === 'with' || node.type === 'range') {
        visitPipe(node.pipe);
        visitList(node.list);
        if (node.elseList) visitList(node.elseList);
      }
    }
  };
  visitList(template.root);
  return unique(names);
}

// ---------------------------------------------------------------------------------------------------------
// Values

/** Go's truth: false, 0, nil, and empty strings, arrays and maps are false. */
export function isTrue(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      return value !== 0;
    case 'bigint':
      return value !== 0n;
    case 'string':
      return value.length > 0;
  }
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof Map) return value.size > 0;
  if (isGoMap(value)) return Object.keys(value).length > 0;
  return true;
}

function lookupKey(receiver: object, key: string): { found: boolean; value: unknown } {
  if (receiver instanceof Map) {
    return receiver.has(key) ? { found: true, value: receiver.get(key) } : { found: false, value: undefined };
  }
  const descriptor = Object.getOwnPropertyDescriptor(receiver, key);
  if (!descriptor || !('value' in descriptor) || descriptor.value === undefined) {
    return { found: false, value: undefined };
  }
  return { found: true, value: descriptor.value };
}

function utf8Length(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

// ---------------------------------------------------------------------------------------------------------
// Builtins

function arity(name: string, args: readonly unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const want =
      max === Number.POSITIVE_INFINITY ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
    throw new TemplateRenderError(
      `template: wrong number of args for ${name}: want ${want} got ${args.length}`,
    );
  }
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'nil' | 'other';

function basicKind(value: unknown): BasicKind {
  if (value === null || value === undefined) return 'nil';
  switch (typeof value) {
    case 'boolean':
      return 'bool';
    case 'number':
      return isGoInt(value) ? 'int' : 'float';
    case 'string':
      return 'string';
  }
  return 'other';
}

/** Go compares an int and a float64 as incompatible; JavaScript numbers do not keep that distinction. */
function comparableKind(kind: BasicKind): BasicKind {
  return kind === 'float' ? 'int' : kind;
}

function eq(...args: unknown[]): boolean {
  arity('eq', args, 1, Number.POSITIVE_INFINITY);
  const [first, ...rest] = args;
  if (rest.length === 0) throw new Error('missing argument for comparison');
  const k1 = comparableKind(basicKind(first));
  for (const arg of rest) {
    const k2 = comparableKind(basicKind(arg));
    if (k1 !== k2) {
      if (k1 !== 'nil' && k2 !== 'nil') throw new Error('incompatible types for comparison');
      continue;
    }
    if (k1 === 'other') {
      throw new Error(`non-comparable types ${goTypeName(first)}: ${goTypeName(arg)}`);
    }
    if (k1 === 'nil' || first === arg) return true;
  }
  return false;
}

function ne(...args: unknown[]): boolean {
  arity('ne', args, 2);
  return !eq(args[0], args[1]);
}

function lessThan(name: string, args: unknown[]): boolean {
  arity(name, args, 2);
  const [a, b] = args;
  const k1 = comparableKind(basicKind(a));
  const k2 = comparableKind(basicKind(b));
  if (k1 !== 'int' && k1 !== 'string') throw new Error('invalid type for comparison');
  if (k1 !== k2) throw new Error('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function lt(...args: unknown[]): boolean {
  return lessThan('lt', args);
}
function le(...args: unknown[]): boolean {
  arity('le', args, 2);
  return lessThan('le', args) || eq(args[0], args[1]);
}
function gt(...args: unknown[]): boolean {
  arity('gt', args, 2);
  return !lessThan('gt', args) && !eq(args[0], args[1]);
}
function ge(...args: unknown[]): boolean {
  return !lessThan('ge', args);
}

function not(...args: unknown[]): boolean {
  arity('not', args, 1);
  return !isTrue(args[0]);
}

function len(...args: unknown[]): number {
  arity('len', args, 1);
  const [item] = args;
  if (item === null || item === undefined) throw new Error('len of untyped nil');
  if (typeof item === 'string') return utf8Length(item);
  if (Array.isArray(item)) return item.length;
  if (item instanceof Map) return item.size;
  if (isGoMap(item)) return Object.keys(item).length;
  throw new Error(`len of type ${goTypeName(item)}`);
}

function toIndex(value: unknown, cap: number): number {
  if (value === null || value === undefined) throw new Error('cannot index slice/array with nil');
  if (!isGoInt(value)) throw new Error(`cannot index slice/array with type ${goTypeName(value)}`);
  if (value < 0 || value >= cap) throw new Error(`index out of range: ${value}`);
  return value;
}

function index(...args: unknown[]): unknown {
  arity('index', args, 1, Number.POSITIVE_INFINITY);
  let [item] = args;
  for (const key of args.slice(1)) {
    if (item === null || item === undefined) throw new Error('index of untyped nil');
    if (typeof item === 'string') item = Buffer.from(item, 'utf8')[toIndex(key, utf8Length(item))];
    else if (Array.isArray(item)) item = item[toIndex(key, item.length)];
    else if (item instanceof Map) item = item.has(key) ? item.get(key) : null;
    else if (isGoMap(item)) {
      if (typeof key !== 'string') throw new Error(`value has type ${goTypeName(key)}; should be string`);
      item = lookupKey(item, key).value ?? null;
    } else throw new Error(`can't index item of type ${goTypeName(item)}`);
  }
  return item ?? null;
}

function slice(...args: unknown[]): unknown {
  arity('slice', args, 1, 3);
  const [item, ...indexes] = args;
  if (item === null || item === undefined) throw new Error('slice of untyped nil');
  if (typeof item !== 'string' && !Array.isArray(item))
    throw new Error(`can't slice item of type ${goTypeName(item)}`);
  if (indexes.length > 2) throw new Error('cannot 3-index slice');
  const length = typeof item === 'string' ? utf8Length(item) : item.length;
  const bounds = [0, length];
  indexes.forEach((value, i) => {
    bounds[i] = toIndex(value, length + 1);
  });
  if (bounds[0]! > bounds[1]!) throw new Error(`invalid slice index: ${bounds[0]} > ${bounds[1]}`);
  if (Array.isArray(item)) return item.slice(bounds[0], bounds[1]);
  return Buffer.from(item, 'utf8').subarray(bounds[0], bounds[1]).toString('utf8');
}

function print(...args: unknown[]): string {
  return sprint(args, TEMPLATE_LIMITS.maxOutputLength);
}

function println(...args: unknown[]): string {
  return sprintln(args, TEMPLATE_LIMITS.maxOutputLength);
}

function printf(...args: unknown[]): string {
  arity('printf', args, 1, Number.POSITIVE_INFINITY);
  const [format, ...rest] = args;
  if (typeof format !== 'string') {
    throw new TemplateRenderError(
      `template: wrong type for value; expected string; got ${goTypeName(format)}`,
    );
  }
  return sprintf(format, rest, TEMPLATE_LIMITS.maxOutputLength);
}

/** `and`/`or` are evaluated lazily by the executor (Go 1.18+); these run when they are called eagerly. */
function and(...args: unknown[]): unknown {
  arity('and', args, 1, Number.POSITIVE_INFINITY);
  return args.find((arg) => !isTrue(arg)) ?? args[args.length - 1];
}
function or(...args: unknown[]): unknown {
  arity('or', args, 1, Number.POSITIVE_INFINITY);
  return args.find((arg) => isTrue(arg)) ?? args[args.length - 1];
}

const BUILTINS: Readonly<Record<string, TemplateFunction>> = {
  and,
  or,
  not,
  len,
  index,
  slice,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  print,
  printf,
  println,
};

/** The functions the engine provides itself; {@link referencedFunctions} leaves them out. */
export const BUILTIN_FUNCTIONS: readonly string[] = Object.keys(BUILTINS);
const BUILTIN_NAMES = new Set(BUILTIN_FUNCTIONS);

// ---------------------------------------------------------------------------------------------------------
// Executor

const NO_VALUE: unique symbol = Symbol('no value');
type Final = unknown;

class LoopSignal {
  constructor(readonly kind: 'break' | 'continue') {}
}

/** A value shown in an error message, shortened. */
function preview(value: unknown): string {
  try {
    const text = formatValue(value, 200);
    return text.length > 60 ? `${text.slice(0, 60)}...` : text;
  } catch {
    return `a value of type ${goTypeName(value)}`;
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * One piece of a rendered template: template text as written, or the printed value of an action (`pos` is
 * the action's offset in the source).
 */
export type RenderedPart = { kind: 'text'; text: string } | { kind: 'value'; text: string; pos: number };

class Executor {
  private readonly output: RenderedPart[] = [];
  private outputLength = 0;
  /** The offset of the action being printed. */
  private actionPos = 0;
  private readonly vars = new VariableScope<unknown>();
  private steps = 0;
  private work = 0;

  constructor(
    private readonly data: unknown,
    private readonly funcs: Record<string, TemplateFunction>,
  ) {
    this.vars.push('$', data);
  }

  render(root: readonly Node[]): RenderedPart[] {
    this.walkList(this.data, root);
    return this.output;
  }

  private fail(message: string): never {
    throw new TemplateRenderError(`template: ${message}`);
  }

  private tick(): void {
    this.steps++;
    if (this.steps > TEMPLATE_LIMITS.maxSteps) {
      this.fail(`rendering takes more than ${TEMPLATE_LIMITS.maxSteps} steps`);
    }
  }

  private charge(characters: number): void {
    this.work += characters;
    if (this.work > TEMPLATE_LIMITS.maxWork) {
      this.fail(`rendering processes more than ${TEMPLATE_LIMITS.maxWork} characters`);
    }
  }

  private write(text: string, kind: 'text' | 'value' = 'text'): void {
    this.outputLength += text.length;
    if (this.outputLength > TEMPLATE_LIMITS.maxOutputLength) {
      this.fail(`output exceeds ${TEMPLATE_LIMITS.maxOutputLength} characters`);
    }
    this.output.push(kind === 'text' ? { kind, text } : { kind, text, pos: this.actionPos });
  }

  private walkList(dot: unknown, list: readonly Node[]): void {
    for (const node of list) this.walk(dot, node);
  }

  private walk(dot: unknown, node: Node): void {
    this.tick();
    switch (node.type) {
      case 'text':
        this.write(node.text);
        return;
      case 'action': {
        const value = this.evalPipeline(dot, node.pipe);
        this.actionPos = node.pos;
        if (node.pipe.decl.length === 0) this.printValue(value);
        return;
      }
      case 'if':
      case 'with':
        this.walkIfOrWith(dot, node);
        return;
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'break':
      case 'continue':
        throw new LoopSignal(node.type);
    }
  }

  private walkIfOrWith(dot: unknown, node: BranchNode): void {
    const mark = this.vars.size;
    try {
      const value = this.evalPipeline(dot, node.pipe);
      if (isTrue(value)) this.walkList(node.type === 'with' ? value : dot, node.list);
      else if (node.elseList) this.walkList(dot, node.elseList);
    } finally {
      this.vars.truncate(mark);
    }
  }

  private walkRange(dot: unknown, node: BranchNode): void {
    const mark = this.vars.size;
    try {
      const value = this.evalPipeline(dot, node.pipe);
      const declared = this.vars.size;
      const { decl, isAssign } = node.pipe;
      const iterate = (key: unknown, element: unknown): boolean => {
        this.tick();
        if (decl.length > 0) {
          if (isAssign) {
            this.setVar(decl[0]!, decl.length > 1 ? key : element);
            if (decl.length > 1) this.setVar(decl[1]!, element);
          } else {
            this.vars.at(declared - 1).value = element;
            if (decl.length > 1) this.vars.at(declared - 2).value = key;
          }
        }
        try {
          this.walkList(element, node.list);
        } catch (signal) {
          if (!(signal instanceof LoopSignal)) throw signal;
          if (signal.kind === 'break') return false;
        } finally {
          this.vars.truncate(declared);
        }
        return true;
      };
      let iterated = false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          iterated = true;
          if (!iterate(i, value[i])) break;
        }
      } else if (isGoInt(value)) {
        if (decl.length > 1) this.fail(`can't use ${value} to iterate over more than one variable`);
        for (let i = 0; i < value; i++) {
          iterated = true;
          if (!iterate(i, i)) break;
        }
      } else if (isGoMap(value)) {
        for (const [key, element] of mapEntries(value)) {
          if (element === undefined) continue;
          iterated = true;
          if (!iterate(key, element)) break;
        }
      } else if (value !== null && value !== undefined) {
        this.fail(`range can't iterate over ${preview(value)}`);
      }
      if (!iterated && node.elseList) this.walkList(dot, node.elseList);
    } finally {
      this.vars.truncate(mark);
    }
  }

  private printValue(value: unknown): void {
    if (value === null || value === undefined) {
      this.write('<no value>', 'value');
      return;
    }
    if (typeof value === 'function' || typeof value === 'symbol') {
      this.fail(`can't print value of type ${goTypeName(value)}`);
    }
    const remaining = TEMPLATE_LIMITS.maxOutputLength - this.outputLength;
    let text: string;
    try {
      text = formatValue(value, Math.max(remaining, 0));
    } catch (error) {
      if (!(error instanceof FormatLimitError)) throw error;
      if (error.limit === 'length') this.fail(`output exceeds ${TEMPLATE_LIMITS.maxOutputLength} characters`);
      this.fail(`can't print value: ${error.message}`);
    }
    this.write(text, 'value');
  }

  private setVar(name: string, value: unknown): void {
    const variable = this.vars.find(name);
    if (!variable) this.fail(`undefined variable: ${brief(name)}`);
    variable.value = value;
  }

  private varValue(name: string): unknown {
    const variable = this.vars.find(name);
    if (!variable) this.fail(`undefined variable: ${brief(name)}`);
    return variable.value;
  }

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    let value: Final = NO_VALUE;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, value);
      else this.vars.push(name, value);
    }
    return value;
  }

  private notAFunction(args: readonly Operand[], final: Final): void {
    if (args.length > 1 || final !== NO_VALUE) {
      this.fail(`can't give argument to non-function ${operandText(args[0]!)}`);
    }
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    this.tick();
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        return this.evalFieldChain(dot, first, first.idents, cmd.args, final);
      case 'chain':
        return this.evalChain(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first.name, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariable(first, cmd.args, final);
    }
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'nil':
        return this.fail('nil is not a command');
      case 'dot':
        return dot;
      default:
        return first.value;
    }
  }

  private evalArg(dot: unknown, arg: Operand): unknown {
    this.tick();
    switch (arg.type) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'field':
        return this.evalFieldChain(dot, arg, arg.idents, [arg], NO_VALUE);
      case 'variable':
        return this.evalVariable(arg, [arg], NO_VALUE);
      case 'pipe':
        return this.evalPipeline(dot, arg);
      case 'identifier':
        return this.evalFunction(dot, arg.name, [arg], NO_VALUE);
      case 'chain':
        return this.evalChain(dot, arg, [arg], NO_VALUE);
      default:
        return arg.value;
    }
  }

  private evalVariable(
    node: Extract<Operand, { type: 'variable' }>,
    args: readonly Operand[],
    final: Final,
  ): unknown {
    const value = this.varValue(node.name);
    if (node.idents.length === 0) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(value, node, node.idents, args, final);
  }

  private evalChain(
    dot: unknown,
    node: Extract<Operand, { type: 'chain' }>,
    args: readonly Operand[],
    final: Final,
  ) {
    const receiver = this.evalArg(dot, node.node);
    return this.evalFieldChain(receiver, node, node.idents, args, final);
  }

  private evalFieldChain(
    receiver: unknown,
    node: Operand,
    idents: readonly string[],
    args: readonly Operand[],
    final: Final,
  ): unknown {
    let value = receiver;
    for (let i = 0; i < idents.length; i++) {
      const hasArgs = i === idents.length - 1 && (args.length > 1 || final !== NO_VALUE);
      const current = value;
      // Described only on failure: building it for every link would make long chains quadratic.
      const where = () => describeReceiver(node, idents, i, current === this.data);
      value = this.evalField(idents[i]!, value, where, hasArgs);
    }
    return value;
  }

  private evalField(name: string, receiver: unknown, where: () => string, hasArgs: boolean): unknown {
    if (receiver === null || receiver === undefined) {
      this.fail(`can't evaluate field ${clip(name)}: ${where()} is nil`);
    }
    if (!isGoMap(receiver)) this.fail(`can't evaluate field ${clip(name)} in type ${goTypeName(receiver)}`);
    const { found, value } = lookupKey(receiver, name);
    if (!found) this.fail(`no field or key ${brief(name)} in ${where()}`);
    if (hasArgs) this.fail(`${name} is not a method but has arguments`);
    return value;
  }

  private lookupFunction(name: string): { fn: TemplateFunction; builtin: boolean } {
    if (Object.hasOwn(this.funcs, name) && typeof this.funcs[name] === 'function') {
      return { fn: this.funcs[name]!, builtin: false };
    }
    const builtin = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
    if (builtin) return { fn: builtin, builtin: true };
    throw new TemplateSyntaxError(`template: function ${brief(name)} not defined`);
  }

  private evalFunction(dot: unknown, name: string, args: readonly Operand[], final: Final): unknown {
    const { fn, builtin } = this.lookupFunction(name);
    if (builtin && (name === 'and' || name === 'or')) return this.evalAndOr(dot, name, args, final);
    const argv: unknown[] = args.slice(1).map((arg) => this.evalArg(dot, arg));
    if (final !== NO_VALUE) argv.push(final);
    return this.call(name, fn, argv);
  }

  /** `and` / `or` stop at the first argument that decides the result, as Go 1.18+ does. */
  private evalAndOr(dot: unknown, name: 'and' | 'or', args: readonly Operand[], final: Final): unknown {
    const operands = args.slice(1);
    const count = operands.length + (final === NO_VALUE ? 0 : 1);
    arity(name, new Array(count), 1, Number.POSITIVE_INFINITY);
    let value: unknown;
    for (let i = 0; i < count; i++) {
      value = i < operands.length ? this.evalArg(dot, operands[i]!) : final;
      if (isTrue(value) === (name === 'or')) return value;
    }
    return value;
  }

  private call(name: string, fn: TemplateFunction, argv: unknown[]): unknown {
    this.tick();
    this.charge(argv.reduce<number>((sum, arg) => sum + (typeof arg === 'string' ? arg.length : 1), 1));
    let result: unknown;
    try {
      result = fn(...argv);
    } catch (error) {
      if (error instanceof TemplateRenderError || error instanceof TemplateSyntaxError) throw error;
      this.fail(`error calling ${name}: ${errorMessage(error)}`);
    }
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      this.fail(`function ${name} returned a Promise; template functions must be synchronous`);
    }
    if (typeof result === 'string') {
      this.charge(result.length);
      if (result.length > TEMPLATE_LIMITS.maxOutputLength) {
        this.fail(`${name} returned more than ${TEMPLATE_LIMITS.maxOutputLength} characters`);
      }
    }
    return result === undefined ? null : result;
  }
}

/** How an error names the value a field is read from: `data` for the root, else the expression so far. */
function describeReceiver(node: Operand, idents: readonly string[], i: number, isRoot: boolean): string {
  if (isRoot) return 'data';
  const head =
    node.type === 'variable'
      ? node.name
      : node.type === 'chain'
        ? operandText(node.node)
        : node.type === 'field'
          ? ''
          : operandText(node);
  const path = idents.slice(0, i).join('.');
  if (path.length > 80) return `${head}.${path.slice(0, 80)}...`;
  if (head === '' && path === '') return '.';
  if (head === '') return `.${path}`;
  return path === '' ? head : `${head}.${path}`;
}

function checkFunctions(template: ParsedTemplate, funcs: Record<string, TemplateFunction>): void {
  walkOperands(template.root, (operand) => {
    if (operand.type !== 'identifier') return;
    const defined =
      (Object.hasOwn(funcs, operand.name) && typeof funcs[operand.name] === 'function') ||
      Object.hasOwn(BUILTINS, operand.name);
    if (!defined)
      throw syntaxError(template.source, `function ${brief(operand.name)} not defined`, operand.pos);
  });
}

/**
 * Renders a template. `data` is the dot; `funcs` are the functions it may call besides the builtins (a
 * function of the same name as a builtin replaces it, as in Go).
 *
 * A field or key missing from the data is an error: `template: no field or key "S3Endpoint" in data`.
 * Functions receive the evaluated arguments (the previous pipeline value last) and may throw: the error
 * becomes `template: error calling NAME: MESSAGE`, unless it is already a TemplateRenderError, which passes
 * through unchanged (functions throw those for argument errors, as Go's `wrong number of args for …`).
 *
 * @throws TemplateSyntaxError when the text does not parse or calls a function that is not defined
 *   (`template: function "foo" not defined at col 3`), before anything is evaluated.
 * @throws TemplateRenderError when evaluation fails or exceeds a limit of {@link TEMPLATE_LIMITS}.
 */
export function renderTemplate(
  template: ParsedTemplate | string,
  data: unknown,
  funcs: Record<string, TemplateFunction>,
): string {
  const parsed = typeof template === 'string' ? parseTemplate(template) : template;
  if (parsed.root.length === 1 && parsed.root[0]!.type === 'text') return parsed.root[0]!.text;
  return renderTemplateParts(parsed, data, funcs)
    .map((part) => part.text)
    .join('');
}

/**
 * Renders a template as {@link renderTemplate} does, keeping apart the template's own text and the values its
 * actions print, for callers that must treat substituted values differently (shell quoting).
 *
 * @throws as {@link renderTemplate}.
 */
export function renderTemplateParts(
  template: ParsedTemplate | string,
  data: unknown,
  funcs: Record<string, TemplateFunction>,
): RenderedPart[] {
  const parsed = typeof template === 'string' ? parseTemplate(template) : template;
  checkFunctions(parsed, funcs);
  return new Executor(data, funcs).render(parsed.root);
}
