/**
 * `ami-builder version` (also `--version`, `-version`, `-v`): the version of this package, as `packer version`
 * prints Packer's.
 */
import { readFileSync } from 'node:fs';
import type { Command } from './io.js';

/** This package's version, from its package.json. */
export function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (parsed.name === 'ami-builder' && typeof parsed.version === 'string') return parsed.version;
    } catch {
      // not there (the bundled CLI sits one folder deeper)
    }
  }
  return 'unknown';
}

export const command: Command = {
  usage: 'Usage: ami-builder version\n\n  Prints the ami-builder version.',
  run: async (_args, io) => {
    io.out(`ami-builder v${packageVersion()}`);
    return 0;
  },
};
