/**
 * The commands of `ami-builder <command> [args]`. Each entry is one line: a summary and a loader of the
 * module that exports `command` (loaded only when that command runs).
 */
import type { Command } from './io.js';

export interface CommandEntry {
  summary: string;
  load: () => Promise<{ command: Command }>;
}

export const commands: Readonly<Record<string, CommandEntry>> = {
  validate: { summary: 'check that a template is valid', load: () => import('./validate.js') },
  build: { summary: 'build a template on the deployed stack', load: () => import('./build.js') },
  resume: {
    summary: 'resume a build that failed with on_error: abort, on the instance it kept',
    load: () => import('./resume.js'),
  },
  local: {
    summary: 'build a template offline, against a local AWS emulator',
    load: () => import('./local.js'),
  },
  inspect: {
    summary: 'print the execution input a template (JSON or HCL2) stands for',
    load: () => import('./inspect.js'),
  },
  status: { summary: 'show the status, last state and result of a build', load: () => import('./status.js') },
  logs: { summary: "print the SSM command output of a build's instance", load: () => import('./logs.js') },
  sweep: {
    summary: 'remove what ended builds left behind (or list it: --dry-run)',
    load: () => import('./sweep.js'),
  },
  retention: {
    summary: 'retire the images of every family beyond its retention policy (or list them: --dry-run)',
    load: () => import('./retention.js'),
  },
  version: { summary: 'print the ami-builder version', load: () => import('./version.js') },
};
