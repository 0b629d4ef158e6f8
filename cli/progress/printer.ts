/**
 * Prints build progress as Packer does (`==> <build>: <msg>` / `    <build>: <msg>`), or in Packer's
 * machine-readable form, from {@link ProgressEvent}s. Shared by `ami-builder local` and `ami-builder build`.
 */
import { artifactId, artifactString } from '../../lambdas/shared/artifact.js';
import { formatDuration } from '../../lambdas/shared/duration.js';
import type { BuildOutput } from '../../lambdas/shared/state.js';
import type { ProgressEvent } from './events.js';
import { type Line, linesForEvent } from './messages.js';

export interface PrinterOptions {
  /** Receives each printed line (without a trailing newline). */
  write: (line: string) => void;
  /** Packer's `-machine-readable` output. */
  machineReadable?: boolean;
  /** Unix time source, for machine-readable timestamps. */
  now?: () => number;
}

/** The execution output the workflow returns (Summarize Builds). */
export interface WorkflowOutput {
  builds: BuildOutput[];
  warnings?: string[];
  skipped?: { name: string; type: string; reason: string }[];
  failed?: number;
  error?: string;
  cause?: string;
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

  constructor(private readonly options: PrinterOptions) {
    this.machine = options.machineReadable ?? false;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Prints the lines for one event. */
  handle(event: ProgressEvent): void {
    for (const line of linesForEvent(event, this.defaultTarget)) this.print(line);
  }

  /** Prints a line attributed to a build (`say` → `==>`, `message` → indented, `error` → `==>`). */
  print(line: Line): void {
    const target = line.build ?? this.defaultTarget;
    if (this.machine) {
      const ui = line.level === 'message' ? 'message' : line.level === 'error' ? 'error' : 'say';
      const rendered =
        line.level === 'message' ? `    ${target}: ${line.text}` : `==> ${target}: ${line.text}`;
      this.options.write(`${this.now()},${target},ui,${ui},${machineEscape(rendered)}`);
      return;
    }
    for (const part of line.text.split('\n')) {
      this.options.write(line.level === 'message' ? `    ${target}: ${part}` : `==> ${target}: ${part}`);
    }
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
    const write = this.options.write;
    const builds = output.builds ?? [];
    const elapsed = formatDuration(elapsedMilliseconds);
    if (this.machine) {
      const ts = this.now();
      const failed = builds.filter((b) => b.status === 'failed');
      if (failed.length > 0) {
        write(`${ts},,error-count,${failed.length}`);
        for (const b of failed) write(`${ts},${b.name},error,${machineEscape(errorText(b))}`);
      }
      for (const b of builds.filter((x) => x.status === 'succeeded')) {
        write(`${ts},${b.name},artifact-count,1`);
        write(`${ts},${b.name},artifact,0,builder-id,mitchellh.amazon.instance`);
        write(`${ts},${b.name},artifact,0,id,${machineEscape(artifactId(b.artifacts))}`);
        write(`${ts},${b.name},artifact,0,string,${machineEscape(artifactString(b.artifacts))}`);
        write(`${ts},${b.name},artifact,0,files-count,0`);
        write(`${ts},${b.name},artifact,0,end`);
      }
      return;
    }
    for (const b of builds) {
      const took = b.timings.total ?? elapsed;
      if (b.status === 'succeeded') write(`Build '${b.name}' finished after ${took}.`);
      else write(`Build '${b.name}' errored after ${took}: ${errorText(b)}`);
    }
    write('');
    write(`==> Wait completed after ${elapsed}`);
    const failed = builds.filter((b) => b.status === 'failed');
    if (failed.length > 0) {
      write('');
      write("==> Some builds didn't complete successfully and had errors:");
      for (const b of failed) write(`--> ${b.name}: ${errorText(b)}`);
    }
    const succeeded = builds.filter((b) => b.status === 'succeeded' && Object.keys(b.artifacts).length > 0);
    write('');
    if (succeeded.length === 0) {
      write('==> Builds finished but no artifacts were created.');
      return;
    }
    write('==> Builds finished. The artifacts of successful builds are:');
    for (const b of succeeded) write(`--> ${b.name}: ${artifactString(b.artifacts).replace(/\n$/, '')}`);
  }
}

function errorText(build: BuildOutput): string {
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

export function runOutput(
  io: { out: (line: string) => void; err: (line: string) => void },
  machineReadable: boolean,
): RunOutput {
  const printer = new ProgressPrinter({ write: io.out, machineReadable });
  return {
    printer,
    say: (text) => printer.print({ level: 'say', text }),
    message: (text) => printer.print({ level: 'message', text }),
    closing: machineReadable
      ? { blank: () => {}, error: (text) => printer.print({ level: 'error', text }) }
      : { blank: () => io.out(''), error: (text) => io.err(text) },
  };
}
