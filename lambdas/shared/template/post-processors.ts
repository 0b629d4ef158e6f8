/**
 * Post-processors. Packer's three forms are read as `template/parse.go` reads them: a string (`"manifest"`),
 * an object, or a sequence (a list of those, not nested). Only `manifest` means something for an AMI built in
 * AWS, and it is honoured; the others are skipped with a warning naming them.
 */
import type { ManifestPostProcessor } from '../config.js';
import {
  asRecord,
  decodeFields,
  describeValue,
  hasLineBreakOrNul,
  own,
  type Path,
  type Report,
  truncate,
} from './decode.js';
import { MANIFEST_KEYS } from './keys.js';
import { type RenderEnv, renderEarly } from './render.js';

export const DEFAULT_MANIFEST_OUTPUT = 'packer-manifest.json';

interface RawPostProcessor {
  record: Record<string, unknown>;
  type: string;
  name: string;
  path: Path;
  label: string;
  only?: string[];
  except?: string[];
}

/** The template's post-processors, flattened; problems and skip warnings are reported once. */
export function readPostProcessors(
  list: readonly unknown[],
  root: Path,
  builderNames: readonly string[],
  report: Report,
) {
  const manifests: RawPostProcessor[] = [];
  const skipped: string[] = [];
  list.forEach((entry, i) => {
    const path = [...root, i];
    let items: { value: unknown; path: Path; label: string }[];
    if (typeof entry === 'string' || asRecord(entry) !== undefined) {
      items = [{ value: entry, path, label: `post-processor ${i + 1}` }];
    } else if (Array.isArray(entry)) {
      items = [];
      entry.forEach((inner, j) => {
        const label = `post-processor ${i + 1}.${j + 1}`;
        if (Array.isArray(inner))
          report.error([...path, j], `${label}: sequence not allowed to be nested in a sequence`);
        else if (typeof inner === 'string' || asRecord(inner) !== undefined)
          items.push({ value: inner, path: [...path, j], label });
        else report.error([...path, j], `${label}: unknown format`);
      });
    } else {
      report.error(path, `post-processor ${i + 1}: bad format`);
      return;
    }
    for (const item of items) {
      const record: Record<string, unknown> =
        typeof item.value === 'string' ? { type: item.value } : (asRecord(item.value) ?? {});
      const type = own(record, 'type');
      if (typeof type !== 'string' || type === '') {
        report.error(item.path, `${item.label}: type is required`);
        continue;
      }
      const name = own(record, 'name');
      const onlyExcept = (key: 'only' | 'except') => {
        const v = own(record, key);
        if (v === undefined || v === null) return undefined;
        if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
        report.error(
          [...item.path, key],
          `${item.label}: expected a list of build names, got ${describeValue(v)}`,
        );
        return undefined;
      };
      const raw: RawPostProcessor = {
        record,
        type,
        name: typeof name === 'string' && name !== '' ? name : type,
        path: item.path,
        label: item.label,
        only: onlyExcept('only'),
        except: onlyExcept('except'),
      };
      if ((raw.only?.length ?? 0) > 0 && (raw.except?.length ?? 0) > 0) {
        report.error(item.path, `${item.label}: only one of 'only' or 'except' may be specified`);
      }
      for (const key of ['only', 'except'] as const) {
        for (const n of raw[key] ?? []) {
          if (!builderNames.includes(n))
            report.error(
              [...item.path, key],
              `${item.label}: '${key}' specified builder '${truncate(n, 100)}' not found`,
            );
        }
      }
      if (type === 'manifest') manifests.push(raw);
      else skipped.push(type);
    }
  });
  if (skipped.length > 0) {
    report.warn(
      root,
      `post-processor(s) ${[...new Set(skipped)].map((t) => JSON.stringify(truncate(t, 60))).join(', ')} skipped: they have no meaning for an AMI built in AWS (only "manifest" is honoured)`,
    );
  }
  if (manifests.length > 1)
    report.warn(root, 'several manifest post-processors: only the first that applies to a build is honoured');
  return manifests;
}

/** The manifest post-processor of one build, if any applies to it. */
export function buildManifest(
  manifests: readonly RawPostProcessor[],
  rawName: string,
  except: readonly string[],
  env: RenderEnv,
  report: Report,
): ManifestPostProcessor | undefined {
  for (const raw of manifests) {
    if (raw.only !== undefined && raw.only.length > 0 && !raw.only.includes(rawName)) continue;
    if (raw.except?.includes(rawName) === true) continue;
    // `-except` also names post-processors (packer/core.go).
    if (except.includes(raw.name)) continue;
    const d = decodeFields(raw.record, MANIFEST_KEYS, raw.path, report, {
      rendererFor: () => (text, at) => renderEarly(text, at, report, env),
    });
    const output = d.nonEmpty('output') ?? DEFAULT_MANIFEST_OUTPUT;
    if (hasLineBreakOrNul(output))
      report.error(d.at('output'), `${raw.label}: output must be a single-line path`);
    const result: ManifestPostProcessor = {
      type: 'manifest',
      output,
      stripPath: d.boolean('strip_path') ?? false,
      stripTime: d.boolean('strip_time') ?? false,
    };
    const customData = d.map('custom_data');
    if (customData !== undefined) result.customData = customData;
    return result;
  }
  return undefined;
}
