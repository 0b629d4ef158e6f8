/**
 * The staleness signal of dist/ (scripts/dist-stamp.mjs), which bin/ami-builder.mjs and bin/cdk-app.mjs check at
 * every start: right after edits, additions, removals and git checkouts, without walking the source tree.
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a JavaScript module without declarations
import { buildCli, ROOT, sourceTree } from '../../scripts/build-cli.mjs';
// @ts-expect-error: a JavaScript module without declarations
import { isStale, STAMP_PATH, writeStamp } from '../../scripts/dist-stamp.mjs';

const stale = isStale as (root: string, part?: 'paths' | 'quick') => boolean;
const stamp = writeStamp as (root: string, startedAt: number, paths: string[], quick?: string[]) => void;

describe('the staleness of dist/', () => {
  let root: string;
  const SOURCES = ['package.json', 'cli/main.ts', 'cli/sub/a.ts', 'lambdas/shared/tracing.mts'];

  /** A tree whose every path was last modified a minute ago, stamped as built 30 s ago. */
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ami-builder-stamp-'));
    for (const file of SOURCES) {
      mkdirSync(join(root, file, '..'), { recursive: true });
      writeFileSync(join(root, file), `// ${file}\n`);
    }
    mkdirSync(join(root, 'dist'));
    const dirs = ['cli', 'cli/sub', 'lambdas', 'lambdas/shared'];
    const minuteAgo = new Date(Date.now() - 60_000);
    for (const path of [...dirs, ...SOURCES]) utimesSync(join(root, path), minuteAgo, minuteAgo);
    stamp(root, Date.now() - 30_000, [...dirs, ...SOURCES]);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is fresh when nothing changed since the build started', () => {
    expect(stale(root)).toBe(false);
  });

  it('is stale after a file is edited in place', () => {
    writeFileSync(join(root, 'cli/sub/a.ts'), '// edited\n');
    expect(stale(root)).toBe(true);
  });

  it('is stale after package.json changes', () => {
    writeFileSync(join(root, 'package.json'), '{}\n');
    expect(stale(root)).toBe(true);
  });

  it('is stale after a file is added, removed, or replaced by a rename', () => {
    writeFileSync(join(root, 'cli/sub/b.ts'), '// new\n');
    expect(stale(root)).toBe(true);

    stamp(root, Date.now() + 1000, ['cli', 'cli/sub', ...SOURCES]);
    expect(stale(root)).toBe(false);
    unlinkSync(join(root, 'cli/main.ts'));
    expect(stale(root)).toBe(true);
  });

  it('is stale after a file is saved by writing a copy and renaming it over the old one', () => {
    const file = join(root, 'lambdas/shared/tracing.mts');
    writeFileSync(`${file}.tmp`, '// saved\n');
    // The copy was written before the build started; only the rename is new.
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.tmp`, old, old);
    renameSync(`${file}.tmp`, file);
    expect(stale(root)).toBe(true);
  });

  it('checks only the quick bundle’s inputs for the quick commands', () => {
    stamp(root, Date.now() - 30_000, ['cli', 'cli/sub', ...SOURCES], ['cli/main.ts', 'package.json']);
    writeFileSync(join(root, 'cli/sub/a.ts'), '// not in the quick bundle\n');
    expect(stale(root, 'quick')).toBe(false);
    expect(stale(root)).toBe(true);
    writeFileSync(join(root, 'cli/main.ts'), '// edited\n');
    expect(stale(root, 'quick')).toBe(true);
  });

  it('is stale without a stamp, or with one it cannot read (an older build’s)', () => {
    writeFileSync(join(root, STAMP_PATH), `${new Date().toISOString()}\n`);
    expect(stale(root)).toBe(true);
    unlinkSync(join(root, STAMP_PATH));
    expect(stale(root)).toBe(true);
  });

  it('is stale after a git checkout of another commit', () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: root,
        stdio: 'ignore',
      });
    git('init', '-q');
    git('add', 'cli', 'lambdas', 'package.json');
    git('commit', '-qm', 'one');
    writeFileSync(join(root, 'cli/main.ts'), '// two\n');
    git('commit', '-qam', 'two');
    // Built at "two": every path older than the build.
    const minuteAgo = new Date(Date.now() - 60_000);
    for (const path of ['cli', 'cli/sub', 'lambdas', 'lambdas/shared', ...SOURCES]) {
      utimesSync(join(root, path), minuteAgo, minuteAgo);
    }
    stamp(root, Date.now() - 30_000, ['cli', 'cli/sub', 'lambdas', 'lambdas/shared', ...SOURCES]);
    expect(stale(root)).toBe(false);

    git('checkout', '-q', 'HEAD~1');

    expect(stale(root)).toBe(true);
  });
});

describe('the CLI build’s stamp', () => {
  beforeAll(async () => {
    await (buildCli as () => Promise<string>)();
  }, 180_000);

  it('lists every source file and directory it compiled, and package.json; dist/ is fresh after it', () => {
    const { files, dirs } = (sourceTree as () => { files: string[]; dirs: string[] })();
    const written = JSON.parse(readFileSync(join(ROOT as string, STAMP_PATH), 'utf8')) as {
      paths: string[];
      quick: string[];
    };
    const expected = [...dirs, ...files].map((p) => relative(ROOT as string, p));
    expect(expected).toContain('lambdas/shared/tracing.mts');
    expect(written.paths).toEqual(expect.arrayContaining([...expected, 'package.json']));
    // The quick bundle's inputs: the CLI's entry and template validation, relative to the root, all sources.
    expect(written.quick).toEqual(expect.arrayContaining(['cli/main.ts', 'package.json']));
    expect(written.quick.some((p) => p.startsWith('lambdas/shared/template/'))).toBe(true);
    for (const p of written.quick) expect(written.paths).toContain(p);
    expect(stale(ROOT as string)).toBe(false);
    expect(stale(ROOT as string, 'quick')).toBe(false);
  });
});
