/**
 * HashiCorp's HCL parser, compiled to WebAssembly and published as `@cdktf/hcl2json`: `parse` turns an HCL2 file
 * into JSON (blocks as nested objects and arrays, expressions left as `${…}` strings) and reports syntax errors
 * as HCL diagnostics; `getExpressionAst` parses expressions with HCL's own expression parser. It runs offline
 * (the WebAssembly module ships in the package) and is loaded only when an HCL2 template is read: loading it
 * costs a few hundred milliseconds.
 */

/** A node of HCL's expression syntax tree, as `getExpressionAst` gives it. */
export interface AstNode {
  type: string;
  meta: Record<string, unknown> & { value?: string };
  range: { start: AstMarker; end: AstMarker };
  children: AstNode[];
}

export interface AstMarker {
  line: number;
  column: number;
  byte: number;
}

interface Hcl2Json {
  parse: (filename: string, contents: string) => Promise<Record<string, unknown>>;
  getExpressionAst: (filename: string, expression: string) => Promise<AstNode | null>;
}

let loaded: Promise<Hcl2Json> | undefined;

function library(): Promise<Hcl2Json> {
  loaded ??= import('@cdktf/hcl2json') as Promise<Hcl2Json>;
  return loaded;
}

/** A syntax error, as HCL reports it. */
export interface SyntaxProblem {
  file: string;
  line?: number;
  column?: number;
  summary: string;
  detail: string;
}

const DIAGNOSTIC = /^(.*?):(\d+),(\d+)(?:-[\d,]+)?: ([^;]*?)(?:; ([\s\S]*))?$/;

/** Reads hcl2json's `parse config: [file:3,1-2: Summary; Detail.]` back into its parts. */
export function syntaxProblem(file: string, message: string): SyntaxProblem {
  const inner = message.replace(/^parse config: \[/, '').replace(/\]$/, '');
  const match = DIAGNOSTIC.exec(inner);
  if (match === null) return { file, summary: 'Invalid HCL', detail: inner };
  return {
    file: match[1] === '' ? file : (match[1] ?? file),
    line: Number(match[2]),
    column: Number(match[3]),
    summary: match[4] ?? '',
    detail: match[5] ?? '',
  };
}

/** Parses one HCL2 file: its JSON form, or the syntax problem. */
export async function parseHcl(
  file: string,
  text: string,
): Promise<{ body: Record<string, unknown> } | { problem: SyntaxProblem }> {
  const hcl = await library();
  try {
    return { body: await hcl.parse(file, text) };
  } catch (error) {
    return { problem: syntaxProblem(file, error instanceof Error ? error.message : String(error)) };
  }
}

/**
 * Parses many expressions (each valid HCL, as hcl2json has already checked) in one call: the WebAssembly bridge
 * costs milliseconds per call. Each expression gets its own tree; positions are relative to its own text
 * (line 0, byte columns), since each is put on a line of its own.
 */
export async function expressionTrees(expressions: readonly string[]): Promise<AstNode[]> {
  if (expressions.length === 0) return [];
  const hcl = await library();
  const text = `[\n${expressions.join(',\n')}\n]`;
  const tree = await hcl.getExpressionAst('expressions.hcl', text);
  const children = tree?.children ?? [];
  if (children.length !== expressions.length) {
    throw new Error(
      `HCL expression parser returned ${children.length} trees for ${expressions.length} expressions`,
    );
  }
  let offset = Buffer.byteLength('[\n');
  return children.map((child, i) => {
    const start = offset;
    offset += Buffer.byteLength(expressions[i] ?? '') + Buffer.byteLength(',\n');
    return shift(child, start);
  });
}

/** Makes a tree's byte offsets relative to its own expression, which starts at `start` in the batch. */
function shift(node: AstNode, start: number): AstNode {
  const move = (m: AstMarker): AstMarker => ({ line: 0, column: m.byte - start, byte: m.byte - start });
  const visit = (n: AstNode): AstNode => ({
    ...n,
    range: { start: move(n.range.start), end: move(n.range.end) },
    children: (n.children ?? []).map(visit),
  });
  return visit(node);
}
