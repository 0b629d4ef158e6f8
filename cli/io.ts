import type { Masker } from '../lambdas/shared/sensitive.js';

/**
 * What a CLI command receives: its arguments and the process around it, passed in so that tests can run a
 * command in-process with captured output.
 */
export interface CliIo {
  /** Writes one line (a newline is added) to standard output. */
  out: (line: string) => void;
  /** Writes one line (a newline is added) to standard error. */
  err: (line: string) => void;
  /** The working directory: relative paths are resolved against it. */
  cwd: string;
  /** The environment (for `{{env}}` in variable defaults). */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads standard input (a template given as `-`). */
  readStdin: () => Promise<string>;
  /** Standard output is a terminal (colours). @default false */
  stdoutIsTerminal?: boolean;
}

/**
 * The same process, with every line written masked (sensitive variables, credentials, private keys): the one
 * place where `build` and `local` mask what they print. The masker may learn values later (after validation).
 */
export function maskedIo(io: CliIo, masker: Masker): CliIo {
  return {
    ...io,
    out: (line) => io.out(masker.mask(line)),
    err: (line) => io.err(masker.mask(line)),
  };
}

export interface Command {
  /** `ami-builder <name> …` usage text, shown by `-h`. */
  usage: string;
  /** Runs the command; resolves to the exit code. */
  run: (args: readonly string[], io: CliIo) => Promise<number>;
}

/** The real process. */
export function processIo(): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    cwd: process.cwd(),
    env: process.env,
    stdoutIsTerminal: process.stdout.isTTY === true,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}
