/**
 * One way to turn a provisioner's command template (`execute_command`, `install_command`) into a command line,
 * whenever it is rendered: chef-solo's and salt-masterless's at validation (their data is known then),
 * puppet-masterless's when its script is written (its `{{.ManifestFile}}` depends on whether the resolved
 * `s3://` reference is a file or a folder).
 *
 * The template's own text is kept as written; each value a `{{.Field}}` prints is quoted for the place it stands
 * in (`composeShellCommand`), so a staging directory with a space stays one word; a field listed in `words`
 * (several words this system has already quoted, `{{.FacterVars}}`) is pasted as words. What template functions
 * print (`{{user "x"}}`) is pasted as written or quoted as a value, as the caller says.
 */
import { randomUUID } from 'node:crypto';
import { type CommandPart, composeShellCommand } from '../shell.js';
import { type ParsedTemplate, renderTemplateParts, type TemplateFunction } from './engine.js';

export interface CommandTemplateOptions {
  functions: Record<string, TemplateFunction>;
  /** Fields whose (already quoted) value is a run of words. */
  words?: ReadonlySet<string>;
  /** Data passed as it is, not quoted (`Debug`, `ModulePathJoiner`). */
  plain?: Record<string, unknown>;
  /** What function output is: pasted `text`, or a `value` quoted for its place. */
  functionOutput: 'text' | 'value';
  /** The label of a value in messages, from the offset of the action that printed it. */
  label: (pos: number) => string;
}

/**
 * Renders a parsed command template with its data and composes the command line.
 *
 * @returns the command line, or the problem (a value that cannot be quoted where it stands)
 * @throws what rendering the template throws (an error of a template function)
 */
export function composeCommandTemplate(
  parsed: ParsedTemplate,
  data: Record<string, string | boolean>,
  options: CommandTemplateOptions,
): { command: string } | { problem: string } {
  const nonce = randomUUID();
  const markers = new Map<string, { field: string; value: string }>();
  const marked: Record<string, unknown> = { ...options.plain };
  for (const [field, value] of Object.entries(data)) {
    // An empty value stays empty, so `{{if .Version}}` is false for it as in Packer.
    if (typeof value === 'boolean' || value === '') {
      marked[field] = value;
      continue;
    }
    const marker = `\u0001${nonce}:${field}\u0001`;
    markers.set(marker, { field, value });
    marked[field] = marker;
  }
  const parts = renderTemplateParts(parsed, marked, options.functions).map((part): CommandPart => {
    if (part.kind === 'text') return part;
    const label = options.label(part.pos);
    const whole = markers.get(part.text);
    if (whole !== undefined && options.words?.has(whole.field) === true)
      return { kind: 'words', text: whole.value, label };
    let text = part.text;
    let fromData = false;
    for (const [marker, { value }] of markers) {
      if (text.includes(marker)) {
        text = text.split(marker).join(value);
        fromData = true;
      }
    }
    if (fromData || options.functionOutput === 'value') return { kind: 'value', text, label };
    return { kind: 'text', text };
  });
  return composeShellCommand(parts);
}
