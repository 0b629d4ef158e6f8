/**
 * Validation problems of a converted HCL2 template, as HCL diagnostics at the place they were written.
 *
 * The checks run on the JSON input the conversion gives (one decoder for both formats), so their problems name
 * a JSON key path (`template.builders[0].launch_block_device_mappings[0].volume_size`). For an HCL2 template,
 * each becomes a diagnostic at the file, line and column of that attribute (or of the nested block, or of the
 * block the element came from, when the key is not written: `ami_name must be specified`): the summary is the
 * problem with its key path inside that block, the detail names the build and the JSON key path.
 */
import { formatEntry, formatPath, type Problem, type Warning } from '../../lambdas/shared/template/decode.js';
import type { HclConversion } from './convert.js';
import { type Diagnostic, formatDiagnostic } from './diagnostics.js';

type Locate = HclConversion['locate'];

/** One diagnostic per distinct problem (a provisioner shared by several builds reports once), in file order. */
export function problemDiagnostics(
  entries: readonly (Problem | Warning)[],
  severity: Diagnostic['severity'],
  locate: Locate,
  fileOrder: readonly string[],
): Diagnostic[] {
  const byText = new Map<string, Diagnostic & { builds: string[]; jsonPath: string; lead: string }>();
  for (const entry of entries) {
    // HCL's own words for a key the block does not take, at the key's name.
    const unknown = /^unknown configuration key: '"(.*)"'$/.exec(entry.message)?.[1];
    const place = locate(entry.path, { name: unknown !== undefined });
    const summary = unknown === undefined ? formatEntry(entry, place?.consumed ?? 0) : 'Unsupported argument';
    const lead = unknown === undefined ? '' : `An argument named "${unknown}" is not expected here.`;
    const jsonPath = formatPath(entry.path);
    const key = JSON.stringify([place?.file, place?.line, place?.column, summary]);
    const known = byText.get(key);
    if (known !== undefined) {
      if (entry.build !== undefined && !known.builds.includes(entry.build)) known.builds.push(entry.build);
      continue;
    }
    byText.set(key, {
      severity,
      summary,
      detail: '',
      ...(place === undefined ? {} : { file: place.file, line: place.line, column: place.column }),
      builds: entry.build === undefined ? [] : [entry.build],
      jsonPath,
      lead,
    });
  }
  const rank = (d: Diagnostic) => [
    d.file === undefined ? fileOrder.length : fileOrder.indexOf(d.file),
    d.line ?? 0,
    d.column ?? 0,
  ];
  return [...byText.values()]
    .map(({ builds, jsonPath, lead, ...d }) => ({
      ...d,
      detail: [
        lead,
        builds.length === 0 ? '' : `In ${builds.map((b) => `build '${b}'`).join(', ')}.`,
        jsonPath === '' ? '' : `JSON input key: ${jsonPath}.`,
      ]
        .filter((part) => part !== '')
        .join(' '),
    }))
    .sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return (x[0] ?? 0) - (y[0] ?? 0) || (x[1] ?? 0) - (y[1] ?? 0) || (x[2] ?? 0) - (y[2] ?? 0);
    });
}

/** The converted template's validation problems (or warnings) in Packer's text form, one block each. */
export function problemLines(
  entries: readonly (Problem | Warning)[],
  severity: Diagnostic['severity'],
  conversion: Pick<HclConversion, 'locate' | 'sources'>,
): string[] {
  return problemDiagnostics(entries, severity, conversion.locate, [...conversion.sources.keys()]).map(
    (d) => `${formatDiagnostic(d, conversion.sources)}\n`,
  );
}
