/**
 * Where things are in an HCL2 file: the order of its blocks and the position of each attribute.
 *
 * `@cdktf/hcl2json` parses the file (and reports its syntax errors), but its JSON keeps neither positions nor
 * the order of blocks of different types (`provisioner "shell"`, `provisioner "file"`, `provisioner "shell"`
 * come out grouped by type), and Packer runs provisioners in the order they are written. This scanner runs
 * only on text that hcl2json has accepted: it skips over expressions (strings, templates, heredocs, comments,
 * brackets) without interpreting them and records, for each body, its attributes and blocks in order with
 * their line and column. It decides nothing about values: those always come from hcl2json's JSON.
 */

/** A position in a file: 1-based line and column (in characters), and the offset in the text. */
export interface Position {
  line: number;
  column: number;
  offset: number;
}

export interface OutlineAttribute {
  kind: 'attribute';
  name: string;
  position: Position;
  /** The value's text span, `[start, end)` offsets. */
  valueStart: number;
  valueEnd: number;
}

export interface OutlineBlock {
  kind: 'block';
  type: string;
  labels: string[];
  position: Position;
  /** Position of the block's labels (one per label). */
  labelPositions: Position[];
  body: OutlineItem[];
}

export type OutlineItem = OutlineAttribute | OutlineBlock;

/** The outline of one file: its text and top-level items. */
export interface FileOutline {
  file: string;
  text: string;
  body: OutlineItem[];
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_-]/;

class Scanner {
  pos = 0;
  private readonly lineStarts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.lineStarts.push(i + 1);
  }

  position(offset: number): Position {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - (this.lineStarts[low] ?? 0) + 1, offset };
  }

  private at(offset = this.pos): string {
    return this.text[offset] ?? '';
  }

  /** Skips spaces, tabs and comments; newlines too when `newlines`. Returns false at the end of the text. */
  skipSpace(newlines: boolean): void {
    for (;;) {
      const c = this.at();
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) this.pos++;
      else if (c === '#' || (c === '/' && this.at(this.pos + 1) === '/')) this.skipLine();
      else if (c === '/' && this.at(this.pos + 1) === '*') {
        const close = this.text.indexOf('*/', this.pos + 2);
        this.pos = close < 0 ? this.text.length : close + 2;
      } else return;
    }
  }

  /** Moves to the newline that ends the current line (not past it). */
  private skipLine(): void {
    const newline = this.text.indexOf('\n', this.pos);
    this.pos = newline < 0 ? this.text.length : newline;
  }

  readIdent(): string {
    const start = this.pos;
    if (!IDENT_START.test(this.at())) return '';
    while (IDENT_PART.test(this.at())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Skips a quoted string (the opening quote at `pos`), templates included; returns its raw content. */
  skipString(): string {
    const start = ++this.pos;
    while (this.pos < this.text.length) {
      const c = this.at();
      if (c === '\\') this.pos += 2;
      else if (c === '"') {
        this.pos++;
        return this.text.slice(start, this.pos - 1);
      } else if ((c === '$' || c === '%') && this.at(this.pos + 1) === c && this.at(this.pos + 2) === '{') {
        this.pos += 3;
      } else if ((c === '$' || c === '%') && this.at(this.pos + 1) === '{') {
        this.pos += 2;
        this.skipExpression('}');
        this.pos++;
      } else if (c === '\n') return this.text.slice(start, this.pos);
      else this.pos++;
    }
    return this.text.slice(start);
  }

  /** Skips a heredoc (`<<` at `pos`) up to and including its closing marker line. */
  private skipHeredoc(): void {
    this.pos += 2;
    if (this.at() === '-') this.pos++;
    const marker = this.readIdent();
    this.skipLine();
    while (this.pos < this.text.length) {
      this.pos++;
      const end = this.text.indexOf('\n', this.pos);
      const line = this.text.slice(this.pos, end < 0 ? this.text.length : end);
      this.pos = end < 0 ? this.text.length : end;
      if (line.trim() === marker) return;
    }
  }

  /**
   * Skips an expression. With `close` (`}` of a template interpolation), stops at the bracket that closes it;
   * otherwise stops at the newline (or the closing `}` of a one-line block) that ends an attribute.
   */
  skipExpression(close?: '}'): void {
    let depth = 0;
    while (this.pos < this.text.length) {
      const c = this.at();
      if (c === '"') {
        this.skipString();
        continue;
      }
      if (c === '<' && this.at(this.pos + 1) === '<' && /[-A-Za-z_]/.test(this.at(this.pos + 2))) {
        this.skipHeredoc();
        continue;
      }
      if (c === '#' || (c === '/' && this.at(this.pos + 1) === '/')) {
        this.skipLine();
        continue;
      }
      if (c === '/' && this.at(this.pos + 1) === '*') {
        const end = this.text.indexOf('*/', this.pos + 2);
        this.pos = end < 0 ? this.text.length : end + 2;
        continue;
      }
      if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') {
        if (depth === 0) return;
        depth--;
      } else if (c === '\n' && depth === 0 && close === undefined) return;
      this.pos++;
    }
  }

  /** Reads a body up to its closing `}` (consumed) or the end of the text. */
  readBody(): OutlineItem[] {
    const items: OutlineItem[] = [];
    for (;;) {
      this.skipSpace(true);
      const c = this.at();
      if (c === '' || c === '}') {
        if (c === '}') this.pos++;
        return items;
      }
      const start = this.pos;
      const name = this.readIdent();
      if (name === '') {
        // Not something hcl2json accepts; step over it rather than loop.
        this.pos++;
        continue;
      }
      this.skipSpace(false);
      if (this.at() === '=' && this.at(this.pos + 1) !== '=') {
        this.pos++;
        this.skipSpace(false);
        const valueStart = this.pos;
        this.skipExpression();
        let valueEnd = this.pos;
        while (valueEnd > valueStart && /\s/.test(this.text[valueEnd - 1] ?? '')) valueEnd--;
        items.push({ kind: 'attribute', name, position: this.position(start), valueStart, valueEnd });
        continue;
      }
      const labels: string[] = [];
      const labelPositions: Position[] = [];
      while (this.at() !== '{' && this.pos < this.text.length) {
        labelPositions.push(this.position(this.pos));
        if (this.at() === '"') labels.push(this.skipString());
        else {
          const label = this.readIdent();
          if (label === '') {
            this.pos++;
            continue;
          }
          labels.push(label);
        }
        this.skipSpace(false);
      }
      this.pos++;
      const body = this.readBody();
      items.push({ kind: 'block', type: name, labels, position: this.position(start), labelPositions, body });
    }
  }
}

/** The outline of a file that hcl2json has parsed. */
export function outlineOf(file: string, text: string): FileOutline {
  const scanner = new Scanner(text);
  return { file, text, body: scanner.readBody() };
}

/** Position of `offset` in `text` (1-based line and column). */
export function positionIn(text: string, offset: number): Position {
  return new Scanner(text).position(offset);
}

/** The blocks of a body with this type (and these leading labels), in order. */
export function blocksOf(body: readonly OutlineItem[], type: string, labels: readonly string[] = []) {
  return body.filter(
    (item): item is OutlineBlock =>
      item.kind === 'block' && item.type === type && labels.every((label, i) => item.labels[i] === label),
  );
}

/** The attribute of a body with this name. */
export function attributeOf(body: readonly OutlineItem[] | undefined, name: string) {
  return body?.find((item): item is OutlineAttribute => item.kind === 'attribute' && item.name === name);
}
