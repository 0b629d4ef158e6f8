/**
 * What `ami-builder build` and `ami-builder local` print around a run: the user's own file names in progress
 * lines, and the closing lines of a run that did not succeed (the failure once, then where to read the rest).
 */
import { isAbsolute, relative } from 'node:path';
import { causeMessage } from './progress/messages.js';
import type { Closing, ProgressPrinter } from './progress/printer.js';
import type { StagedFile } from './stage.js';

/** Progress lines name each staged file by the path the user wrote (relative to the working directory). */
export function showLocalPaths(printer: ProgressPrinter, staged: readonly StagedFile[], cwd: string): void {
  const names = new Map<string, string>();
  for (const file of staged) {
    const rel = relative(cwd, file.localPath);
    names.set(file.uri, rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file.localPath);
  }
  printer.setDisplayNames(names);
}

/** How a run ended when it did not succeed. */
export type RunEnd =
  | { kind: 'execution-failed'; error: string; cause: string }
  | { kind: 'execution-aborted'; reason: 'aborted' | 'timed-out' };

/**
 * The closing lines of a run that did not succeed: the error's name, its message unless a build's failure already
 * showed it, then where to read the commands' whole output and the execution.
 */
export function failureClosing(
  closing: Closing,
  printer: ProgressPrinter,
  end: RunEnd,
  where: { consoleUrl?: string; executionArn?: string; logGroup?: string },
): void {
  closing.blank();
  if (end.kind === 'execution-failed') {
    closing.error(`==> Execution failed: ${end.error}`);
    const message = causeMessage(end.cause);
    if (message !== '' && !printer.alreadyReported(message)) closing.error(message);
  } else {
    closing.error(`==> Execution ${end.reason === 'timed-out' ? 'timed out' : 'was stopped'}.`);
  }
  if (where.executionArn !== undefined) {
    closing.error(`==> Every command's whole output: ami-builder logs ${where.executionArn}`);
  }
  if (where.consoleUrl !== undefined) closing.error(`==> Console: ${where.consoleUrl}`);
}
