/**
 * `cdk synth --quiet` as a user runs it (issue 13, "A quick synth"): the real CLI with `cdk.json`, into a scratch
 * output folder, bundling every handler. Reports the wall time, the CPU time of the CLI and its children (bash's
 * `time`), the machine's load average when it started (the target is for an idle 2-core machine), and what the
 * command printed (nothing, on success).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** `cdk synth` ≤ 30 s on an idle 2-core machine. */
export const SYNTH_TARGET_MS = 30_000;

export interface SynthMeasure {
  wallMs: number;
  cpuMs: number;
  loadAverage: number;
  status: number | null;
  /** What `cdk synth --quiet` printed, stdout and stderr. */
  printed: string;
}

function userEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CDK_VALIDATION;
  return env;
}

/**
 * The verdict on the synth target (≤ {@link SYNTH_TARGET_MS} on an idle 2-core machine): the wall time when the
 * machine was idle (load average below 1 at the start), the CPU time (user + system, the CLI and its children)
 * otherwise: on a loaded machine the wall time measures the other work, and an idle machine's wall time is no more
 * than the CPU time. Printing anything fails it (`--quiet` prints nothing on success).
 */
export function synthVerdict(m: SynthMeasure): { ok: boolean; judgedBy: 'wall' | 'cpu' } {
  const judgedBy = m.loadAverage < 1 ? 'wall' : 'cpu';
  const time = judgedBy === 'wall' ? m.wallMs : m.cpuMs;
  return { ok: m.status === 0 && m.printed.trim() === '' && time <= SYNTH_TARGET_MS, judgedBy };
}

export function measureSynth(root: string): SynthMeasure {
  const out = mkdtempSync(join(tmpdir(), 'ami-builder-synth-'));
  try {
    const loadAverage = loadavg()[0] ?? Number.NaN;
    const started = performance.now();
    const run = spawnSync(
      'bash',
      [
        '-c',
        'TIMEFORMAT="%U %S"; { time npx cdk synth --quiet --output "$1" >"$1.log" 2>&1; } 2>&1',
        'synth',
        out,
      ],
      // As a user runs it: the bench's own setting that skips CloudFormation validation stays out.
      { cwd: root, encoding: 'utf8', env: userEnvironment() },
    );
    const wallMs = performance.now() - started;
    const [user, sys] = run.stdout.trim().split(/\s+/).map(Number);
    const printed = spawnSync('cat', [`${out}.log`], { encoding: 'utf8' }).stdout;
    return {
      wallMs: Math.round(wallMs),
      cpuMs: Math.round(((user ?? Number.NaN) + (sys ?? Number.NaN)) * 1000),
      loadAverage,
      status: run.status,
      printed,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(`${out}.log`, { force: true });
  }
}
