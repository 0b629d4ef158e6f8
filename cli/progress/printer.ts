/**
 * Prints build progress as Packer does (`==> <build>: <msg>` / `    <build>: <msg>`), or in Packer's
 * machine-readable form, from {@link ProgressEvent}s. Shared by `ami-builder local` and `ami-builder build`.
 */
import { artifactId, artifactString } from '../../lambdas/shared/artifact.js';
import { describeLeak } from '../../lambdas/shared/cleanup-report.js';
import { type CostEstimate, costLines } from '../../lambdas/shared/cost/estimate.js';
import { formatDuration } from '../../lambdas/shared/duration.js';
import { type BuildOutput, isSuccessfulStatus, type LeakedResource } from '../../lambdas/shared/state.js';
import type { OutputLine } from './command-output.js';
import type { ProgressEvent } from './events.js';
import { type Line, linesForEvent } from './messages.js';

export interface PrinterOptions {
  /** Receives each printed line (without a trailing newline). */
  write: (line: string) => void;
  /** Packer's `-machine-readable` output. */
  machineReadable?: boolean;
  /** Unix time source, for machine-readable timestamps. */
  now?: () => number;
  /** Packer's `-timestamp-ui`: each line starts with its RFC 3339 UTC time. */
  timestampUi?: boolean;
  /** Packer's colours (bold `==>` lines, red errors); `-color=false` or a non-terminal turns them off. */
  color?: boolean;
  /** Time source of `-timestamp-ui`. @default Date.now */
  clock?: () => number;
}

const BOLD = '\u001b[1m';
const RED = '\u001b[1;31m';
const RESET = '\u001b[0m';

/** `2026-12-02T02:15:43Z: `, Packer's `-timestamp-ui` prefix. */
export function timestampPrefix(ms: number): string {
  return `${new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')}: `;
}

/** The execution output the workflow returns (Summarize Builds). */
export interface WorkflowOutput {
  builds: BuildOutput[];
  warnings?: string[];
  skipped?: { name: string; type: string; reason: string }[];
  failed?: number;
  /** Resources the builds left behind (Summarize Builds counts `cleanup.leaked`). */
  leaked?: number;
  error?: string;
  cause?: string;
}

/** The exit status of a run whose builds left resources behind, whatever the builds' outcome. */
export const EXIT_LEFT_BEHIND = 2;

/** The resources the builds of a run left behind, with their build's name. */
export function leftBehind(output: WorkflowOutput | undefined): { build: string; leak: LeakedResource }[] {
  return (output?.builds ?? []).flatMap((b) =>
    (b.cleanup?.leaked ?? []).map((leak) => ({ build: b.name, leak })),
  );
}

/**
 * A run's exit status: {@link EXIT_LEFT_BEHIND} when its builds left resources behind, else `outcome` (0 when
 * every build succeeded, 1 otherwise).
 */
export function runExitCode(output: WorkflowOutput | undefined, outcome: 0 | 1): number {
  return leftBehind(output).length > 0 ? EXIT_LEFT_BEHIND : outcome;
}

/** Packer's machine-readable escaping: commas become `%!(PACKER_COMMA)`, newlines `\n`. */
export function machineEscape(value: string): string {
  return value.replace(/,/g, '%!(PACKER_COMMA)').replace(/\r?\n/g, '\\n');
}

export class ProgressPrinter {
  private readonly machine: boolean;
  private readonly now: () => number;
  /** Build name by state input identity is not available; remember the last known build name for top-level lines. */
  private defaultTarget = 'amazon-instance';
  /** Error texts already printed in full, so that a failure's message appears once. */
  private readonly reported: string[] = [];
  /** Called after each printed line (the heartbeat counts silence from there). */
  onPrint: () => void = () => {};
  /** Builds whose failure was printed in full, with the error name. */
  readonly failures = new Map<string, string>();

  constructor(private readonly options: PrinterOptions) {
    this.machine = options.machineReadable ?? false;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Writes one physical line, with `-timestamp-ui`'s prefix. */
  private write(text: string): void {
    const prefix = this.options.timestampUi ? timestampPrefix((this.options.clock ?? Date.now)()) : '';
    this.options.write(`${prefix}${text}`);
    this.onPrint();
  }

  private displayNames = new Map<string, string>();

  /** Staged `s3://` URIs and the names shown for them in progress lines (the user's own paths). */
  setDisplayNames(names: ReadonlyMap<string, string>): void {
    this.displayNames = new Map(names);
  }

  private displayed(text: string): string {
    let shown = text;
    for (const [uri, name] of this.displayNames) shown = shown.replaceAll(uri, name);
    return shown;
  }

  /** Prints the lines for one event. */
  handle(event: ProgressEvent): void {
    for (const raw of linesForEvent(event, this.defaultTarget)) {
      const line = { ...raw, text: this.displayed(raw.text) };
      if (line.level === 'error' && !this.firstReport(line)) continue;
      this.print(line);
    }
  }

  /**
   * True when the error line says something not printed yet. A failure travels up the workflow (the task, the
   * build's report, the execution's end), each time wrapped in more text: only its first report is printed.
   */
  private firstReport(line: Line): boolean {
    const body = line.text.replace(/^[A-Za-z.]+: /, '').trim();
    if (body === '') return true;
    if (this.reported.some((known) => line.text.includes(known) || known.includes(body))) return false;
    this.reported.push(body);
    const build = line.build ?? this.defaultTarget;
    if (!this.failures.has(build))
      this.failures.set(build, /^([A-Za-z.]+): /.exec(line.text)?.[1] ?? 'Error');
    return true;
  }

  /** True when `text` (an execution's cause) was already printed as a build's failure. */
  alreadyReported(text: string): boolean {
    const body = text.trim();
    return body !== '' && this.reported.some((known) => body.includes(known) || known.includes(body));
  }

  /** Prints a line attributed to a build (`say` → `==>`, `message` → indented, `error` → `==>`). */
  print(line: Line): void {
    const target = line.build ?? this.defaultTarget;
    if (this.machine) {
      const ui = line.level === 'message' ? 'message' : line.level === 'error' ? 'error' : 'say';
      const rendered =
        line.level === 'message' ? `    ${target}: ${line.text}` : `==> ${target}: ${line.text}`;
      this.write(`${this.now()},${target},ui,${ui},${machineEscape(rendered)}`);
      return;
    }
    const color = this.options.color === true;
    for (const part of line.text.split('\n')) {
      if (line.level === 'message') this.write(`    ${target}: ${part}`);
      else if (!color) this.write(`==> ${target}: ${part}`);
      else this.write(`${line.level === 'error' ? RED : BOLD}==> ${target}: ${part}${RESET}`);
    }
  }

  /**
   * Prints a line of a command's output as Packer's remote commands print theirs: standard output as
   * `    <build>: <line>` (ui.Message), standard error as `==> <build>: <line>` (ui.Error, red).
   */
  output(line: OutputLine): void {
    this.print({ level: line.stream === 'stderr' ? 'error' : 'message', text: line.text, build: line.build });
  }

  /** The name used for lines that belong to no particular build. */
  get target(): string {
    return this.defaultTarget;
  }

  /** Sets the name used for lines that belong to no particular build (a single-build template's name). */
  setDefaultTarget(name: string): void {
    this.defaultTarget = name;
  }

  /**
   * Prints Packer's closing block: one `Build '<name>' finished after …` / `errored after …` line per build, the
   * wait line, then the artifacts of successful builds or the errors.
   */
  summary(output: WorkflowOutput, elapsedMilliseconds: number): void {
    const write = (text: string) => this.write(text);
    const builds = output.builds ?? [];
    const elapsed = formatDuration(Math.max(0, elapsedMilliseconds));
    // A failure printed in full while the build ran is named here, not repeated.
    const shortText = (b: BuildOutput) =>
      `${b.error?.Error ?? this.failures.get(b.name) ?? 'Error'} (the error is shown above)`;
    const errorText = (b: BuildOutput) => {
      if (this.failures.has(b.name) || this.alreadyReported(b.error?.Cause ?? '')) return shortText(b);
      const cause = (b.error?.Cause ?? '').trim();
      if (cause !== '') this.reported.push(cause);
      this.failures.set(b.name, b.error?.Error ?? 'Error');
      return fullErrorText(b);
    };
    if (this.machine) {
      const ts = this.now();
      const failed = builds.filter((b) => b.status === 'failed');
      if (failed.length > 0) {
        write(`${ts},,error-count,${failed.length}`);
        for (const b of failed) write(`${ts},${b.name},error,${machineEscape(fullErrorText(b))}`);
      }
      for (const b of builds.filter((x) => isSuccessfulStatus(x.status))) {
        if (b.status === 'unchanged') write(`${ts},${b.name},ui,say,${machineEscape(unchangedLine(b))}`);
        write(`${ts},${b.name},artifact-count,1`);
        write(`${ts},${b.name},artifact,0,builder-id,mitchellh.amazon.instance`);
        write(`${ts},${b.name},artifact,0,id,${machineEscape(artifactId(b.artifacts))}`);
        write(`${ts},${b.name},artifact,0,string,${machineEscape(artifactString(b.artifacts))}`);
        write(`${ts},${b.name},artifact,0,files-count,0`);
        write(`${ts},${b.name},artifact,0,end`);
      }
      for (const { build, leak } of leftBehind(output)) {
        const fields = [leak.type, leak.id, leak.region, leak.reason, leak.hint].map(machineEscape);
        write(`${ts},${build},left-behind,${fields.join(',')}`);
      }
      return;
    }
    for (const b of builds) {
      const took = b.timings.total ?? elapsed;
      if (b.status === 'unchanged') write(`Build '${b.name}' finished after ${took}: ${unchangedLine(b)}`);
      else if (b.status === 'succeeded') write(`Build '${b.name}' finished after ${took}.`);
      else write(`Build '${b.name}' errored after ${took}: ${errorText(b)}`);
    }
    write('');
    write(`==> Wait completed after ${elapsed}`);
    const failed = builds.filter((b) => b.status === 'failed');
    if (failed.length > 0) {
      write('');
      write("==> Some builds didn't complete successfully and had errors:");
      for (const b of failed) write(`--> ${b.name}: ${shortText(b)}`);
    }
    const leaks = leftBehind(output);
    if (leaks.length > 0) {
      write('');
      write('==> Resources left behind: cleanup could not remove them; remove them by hand:');
      for (const { build, leak } of leaks) {
        write(`--> ${build}: ${describeLeak(leak)}`);
        write(`    ${leak.hint}`);
      }
    }
    const costed = builds.filter((b) => b.cost !== undefined);
    if (costed.length > 0) {
      write('');
      write('==> Estimated cost (list prices; README.md, "Cost estimate"):');
      for (const b of costed) for (const line of costLines(b.name, b.cost as CostEstimate)) write(line);
    }
    const succeeded = builds.filter(
      (b) => isSuccessfulStatus(b.status) && Object.keys(b.artifacts).length > 0,
    );
    write('');
    if (succeeded.length === 0) {
      write('==> Builds finished but no artifacts were created.');
      return;
    }
    write('==> Builds finished. The artifacts of successful builds are:');
    for (const b of succeeded) write(`--> ${b.name}: ${artifactString(b.artifacts).replace(/\n$/, '')}`);
  }
}

function fullErrorText(build: BuildOutput): string {
  if (!build.error) return 'unknown error';
  return `${build.error.Error}: ${build.error.Cause}`;
}

/** Where a command's closing lines go: stderr for people, machine-readable lines on stdout otherwise. */
export interface Closing {
  blank: () => void;
  error: (text: string) => void;
}

/** The printer of a build run (`build`, `local`) with its `say`/`message` shorthands and closing-line sink. */
export interface RunOutput {
  printer: ProgressPrinter;
  say: (text: string) => void;
  message: (text: string) => void;
  closing: Closing;
}

/** How a run prints: Packer's `-machine-readable`, `-timestamp-ui` and `-color`. */
export interface OutputFlags {
  machineReadable: boolean;
  timestampUi?: boolean;
  color?: boolean;
}

export function runOutput(
  io: { out: (line: string) => void; err: (line: string) => void },
  flags: OutputFlags,
): RunOutput {
  const printer = new ProgressPrinter({
    write: io.out,
    machineReadable: flags.machineReadable,
    timestampUi: flags.timestampUi,
    color: flags.color,
  });
  const stamp = (text: string) => (flags.timestampUi ? `${timestampPrefix(Date.now())}${text}` : text);
  return {
    printer,
    say: (text) => printer.print({ level: 'say', text }),
    message: (text) => printer.print({ level: 'message', text }),
    closing: flags.machineReadable
      ? { blank: () => {}, error: (text) => printer.print({ level: 'error', text }) }
      : { blank: () => io.out(''), error: (text) => io.err(stamp(text)) },
  };
}

/** What an unchanged build (`skip_if_unchanged`) says instead of having built. */
function unchangedLine(b: BuildOutput): string {
  return `unchanged: nothing changed since ${b.artifactId} was built, so nothing was launched (status unchanged).`;
}
