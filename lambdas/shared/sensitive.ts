/**
 * Masking of sensitive values wherever the project writes: the values of `sensitive-variables`, credentials
 * written in the template (`access_key`, `secret_key`, `token`), the caller's own AWS credentials and X.509
 * private keys.
 *
 * Secrets never travel through the state on their own, so the tasks cannot be handed a list of them. Instead
 * Validate Template records, in each build's configuration, where a sensitive value sits in that configuration
 * ({@link SensitiveLocation}: a JSON path and a span of the string there). A value the configuration does not
 * hold cannot reach a task. Every task derives its {@link Masker} from the configuration it receives
 * ({@link maskerFor}); {@link lambdaHandler} (./runtime.ts) runs each invocation with it, masks the error
 * messages it throws, and sets it as the logger's mask (./observability.ts), so every log line and metric record
 * is masked. The CLI builds its own masker from what the
 * local validation found.
 *
 * Limits: a value is found as written, JSON-escaped or single-quoted for a shell; a value the build transforms
 * (`upper`, `clean_resource_name`, base64) is not recognised; values shorter than {@link MIN_SECRET_LENGTH}
 * characters are never masked (they would mangle every message).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What a masked value reads as. */
export const MASK = '<sensitive>';

/** Values shorter than this are not masked: masking "1" would mangle every message. */
export const MIN_SECRET_LENGTH = 3;

/** Where one sensitive value sits in a build's configuration: the string at `path`, from `start` to `end`. */
export interface SensitiveLocation {
  path: (string | number)[];
  start: number;
  end: number;
}

/** The environment variables that hold a process's own AWS credentials. */
export const CREDENTIAL_ENVIRONMENT = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
] as const;

// A PEM private key, whole or cut off (a command's output tail), whatever its algorithm.
const PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;

/** The forms a value takes in what the project writes: as is, inside JSON, inside single shell quotes. */
function variants(value: string): string[] {
  return [value, JSON.stringify(value).slice(1, -1), value.replaceAll("'", `'\\''`)];
}

/** Replaces known sensitive values, and any PEM private key, by {@link MASK}. */
export class Masker {
  private values: string[] = [];

  constructor(values: Iterable<string> = []) {
    this.add(values);
  }

  /** Adds values to mask (short ones are ignored). */
  add(values: Iterable<string>): this {
    const all = new Set(this.values);
    for (const value of values) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      for (const form of variants(value)) all.add(form);
    }
    // Longest first, so a value that contains another is masked whole.
    this.values = [...all].sort((a, b) => b.length - a.length);
    return this;
  }

  mask(text: string): string {
    let out = text.includes('PRIVATE KEY-----') ? text.replace(PRIVATE_KEY, MASK) : text;
    for (const value of this.values) if (out.includes(value)) out = out.split(value).join(MASK);
    return out;
  }

  /** A copy of a JSON value with every string (keys included) masked. */
  maskDeep<T>(value: T): T {
    if (typeof value === 'string') return this.mask(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.maskDeep(v)) as T;
    if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.mask(k), this.maskDeep(v)])) as T;
    }
    return value;
  }
}

/** A process's own AWS credentials, from its environment. */
export function credentialValues(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  return CREDENTIAL_ENVIRONMENT.flatMap((name) => {
    const value = env[name];
    return value !== undefined && value.length >= 8 ? [value] : [];
  });
}

/**
 * Where each of `secrets` first occurs in the strings of `config` (keys excluded), one location per value found.
 * Values the configuration does not hold are left out: no task can write them.
 */
export function locateSensitive(config: unknown, secrets: readonly string[]): SensitiveLocation[] {
  const wanted = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))];
  const found = new Map<string, SensitiveLocation>();
  const walk = (value: unknown, path: (string | number)[]) => {
    if (found.size === wanted.length) return;
    if (typeof value === 'string') {
      for (const secret of wanted) {
        if (found.has(secret)) continue;
        const start = value.indexOf(secret);
        if (start >= 0) found.set(secret, { path, start, end: start + secret.length });
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => {
        walk(v, [...path, i]);
      });
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    }
  };
  walk(config, []);
  return [...found.values()];
}

/** The values that `locations` point at in `config` (a location that points nowhere gives nothing). */
export function sensitiveValues(config: unknown, locations: readonly SensitiveLocation[]): string[] {
  const values: string[] = [];
  for (const { path, start, end } of locations) {
    let at: unknown = config;
    for (const segment of path) {
      at =
        typeof at === 'object' && at !== null ? (at as Record<string | number, unknown>)[segment] : undefined;
    }
    if (typeof at === 'string' && start >= 0 && end <= at.length && start < end) {
      values.push(at.slice(start, end));
    }
  }
  return values;
}

/** The build configuration in a task's event: `{ build: { config } }`, or `{ config }`. */
function configOf(event: unknown): { sensitive?: unknown } | undefined {
  const record = (v: unknown) =>
    typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  const config = record(record(record(event)?.build)?.config) ?? record(record(event)?.config);
  return config;
}

/** The sensitive values that the build configuration in a task's event (or a state's input) records. */
export function eventSensitiveValues(event: unknown): string[] {
  const config = configOf(event);
  return config !== undefined && Array.isArray(config.sensitive)
    ? sensitiveValues(config, config.sensitive as SensitiveLocation[])
    : [];
}

/** The masker of a task invocation: the sensitive values its build configuration records, and its credentials. */
export function maskerFor(event: unknown): Masker {
  return new Masker(credentialValues()).add(eventSensitiveValues(event));
}

const invocation = new AsyncLocalStorage<Masker>();

/** Runs one task invocation with the masker of its event ({@link currentMasker} inside). */
export function runMasked<T>(event: unknown, task: () => Promise<T>): Promise<T> {
  return invocation.run(maskerFor(event), task);
}

/** The masker of the running invocation; outside one, the process's credentials only. */
export function currentMasker(): Masker {
  return invocation.getStore() ?? new Masker(credentialValues());
}
