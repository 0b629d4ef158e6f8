/**
 * HCL diagnostics, as Packer prints them: a severity, a summary, a detail and the place in the file.
 */

export interface Diagnostic {
  severity: 'error' | 'warning';
  summary: string;
  detail: string;
  /** The file, as given (relative to the working directory when it was given so). */
  file?: string;
  line?: number;
  column?: number;
}

/** The diagnostics of a conversion; errors make it fail. */
export class Diagnostics {
  readonly list: Diagnostic[] = [];

  error(summary: string, detail: string, at?: { file: string; line: number; column: number }): void {
    this.list.push({ severity: 'error', summary, detail, ...at });
  }

  warn(summary: string, detail: string, at?: { file: string; line: number; column: number }): void {
    this.list.push({ severity: 'warning', summary, detail, ...at });
  }

  get errors(): Diagnostic[] {
    return this.list.filter((d) => d.severity === 'error');
  }

  get warnings(): Diagnostic[] {
    return this.list.filter((d) => d.severity === 'warning');
  }
}

/** `file:line,col: summary; detail`, HCL's one-line form (hcl.Diagnostic.Error). */
export function diagnosticLine(d: Diagnostic): string {
  const where =
    d.file === undefined ? '' : `${d.file}${d.line === undefined ? '' : `:${d.line},${d.column ?? 1}`}: `;
  return `${where}${d.summary}${d.detail === '' ? '' : `; ${d.detail}`}`;
}

/**
 * Packer's text form:
 *
 * ```
 * Error: Unsupported attribute
 *
 *   on build.pkr.hcl line 5, column 14:
 *    5:   region = var.nope
 *
 * This object does not have an attribute named "nope".
 * ```
 */
export function formatDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>): string {
  const lines = [`${d.severity === 'error' ? 'Error' : 'Warning'}: ${d.summary}`, ''];
  if (d.file !== undefined && d.line !== undefined) {
    lines.push(`  on ${d.file} line ${d.line}, column ${d.column ?? 1}:`);
    const text = sources.get(d.file)?.split('\n')[d.line - 1];
    if (text !== undefined) lines.push(`  ${String(d.line).padStart(3)}: ${text.replace(/\r$/, '')}`);
    lines.push('');
  }
  if (d.detail !== '') lines.push(d.detail);
  return lines.join('\n');
}

/** An error that carries HCL diagnostics (what `validate`, `build`, `local` and `inspect` print). */
export class HclDiagnosticsError extends Error {
  override readonly name = 'HclDiagnosticsError' as const;
  constructor(
    readonly diagnostics: readonly Diagnostic[],
    readonly sources: ReadonlyMap<string, string>,
  ) {
    super(diagnostics.map(diagnosticLine).join('\n'));
  }

  /** Each diagnostic in Packer's text form, separated by blank lines. */
  lines(): string[] {
    return this.diagnostics.map((d) => `${formatDiagnostic(d, this.sources)}\n`);
  }
}
