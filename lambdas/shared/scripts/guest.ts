/**
 * Building blocks of the guest-side provisioners' `run.sh` (chef-solo, salt-masterless): placing a staged file
 * or directory tree, and running a command as the run-as user with Packer's failure message.
 */
import { shellQuote } from '../shell.js';
import { assign, FROM_HOME, message, normalizeRemotePath } from './common.js';

/** One staged file and where it goes. */
export interface Placement {
  /** Name in the command folder (`files/3`). */
  staged: string;
  /** Absolute path on the instance. */
  target: string;
}

/** A file or directory tree to place: the directories to create first (parents first), then the files. */
export interface GuestPlacement {
  /** What the progress line names (the S3 URI). */
  label: string;
  directories: string[];
  files: Placement[];
  /** Mode of the files. @default 0644 */
  mode?: '0644' | '0600';
}

const STAGED_NAME = /^[A-Za-z0-9_./-]+$/;

export function checkStagedName(name: string): string {
  if (!STAGED_NAME.test(name) || name.startsWith('/') || name.split('/').includes('..')) {
    throw new Error(`internal: staged file name ${JSON.stringify(name)} is not a plain relative path`);
  }
  return name;
}

/** Lines that place one upload; each failing step ends the script with `failure` (a Packer message). */
export function placementLines(placement: GuestPlacement, failure: string): string[] {
  const fail = `{ echo ${shellQuote(failure)} >&2; exit 1; }`;
  const lines: string[] = [];
  for (const dir of placement.directories) {
    lines.push(`ami_builder_ensure_dir ${shellQuote(normalizeRemotePath(dir))} || ${fail}`);
  }
  for (const file of placement.files) {
    lines.push(
      `ami_builder_install ${checkStagedName(file.staged)} ${shellQuote(normalizeRemotePath(file.target))} ${placement.mode ?? '0644'} || ${fail}`,
    );
  }
  return lines;
}

/**
 * Runs `command` as the run-as user as an SSH session would (from the home directory, with sshd's umask 022, so
 * what Chef or Salt create is readable as on a Packer build; run.sh itself keeps 077), and leaves the exit
 * status in `code`.
 */
export function runLines(variable: string, command: string): string[] {
  return [
    assign(variable, `${FROM_HOME}umask 022\n${command}`),
    `ami_builder_run_as "$${variable}"`,
    'code=$?',
  ];
}

/** Packer's `createDir` for Unix guests: `[sudo ]mkdir -p '<dir>'`, run as the user. */
export function createDirLines(variable: string, dir: string, sudo: boolean, failure: string): string[] {
  return [
    message(`Creating directory: ${dir}`),
    ...runLines(variable, `${sudo ? 'sudo ' : ''}mkdir -p ${shellQuote(dir)}`),
    `[ "$code" -eq 0 ] || { echo ${shellQuote(`${failure}: Non-zero exit status.`)} >&2; exit 1; }`,
  ];
}
