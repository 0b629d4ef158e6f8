/**
 * `emulator/ensure-moto.sh` on a fresh machine whose Python refuses system-wide installs (PEP 668): simulated with
 * a virtual environment that has no moto and carries the EXTERNALLY-MANAGED marker. The script must not pip-install
 * into it, and must make a project-local environment that sees the machine's moto.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'emulator', 'ensure-moto.sh');
const dir = mkdtempSync(join(tmpdir(), 'ensure-moto-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ensure-moto.sh', () => {
  it('uses a project-local venv (with the system site packages) when AMI_BUILDER_PYTHON is externally managed', () => {
    // Prepare: a "system" Python without moto that refuses installs.
    const managed = join(dir, 'managed');
    execFileSync('python3', ['-m', 'venv', '--without-pip', managed]);
    const version = execFileSync(join(managed, 'bin', 'python'), [
      '-c',
      'import sys; print("python%d.%d" % sys.version_info[:2])',
    ])
      .toString()
      .trim();
    writeFileSync(
      join(managed, 'lib', version, 'EXTERNALLY-MANAGED'),
      '[externally-managed]\nError=use a venv\n',
    );
    const venv = join(dir, 'project-venv');

    // Act
    const python = execFileSync('bash', [SCRIPT, '--print-python'], {
      env: { ...process.env, AMI_BUILDER_PYTHON: join(managed, 'bin', 'python'), AMI_BUILDER_VENV: venv },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();

    // Assess
    expect(python).toBe(join(venv, 'bin', 'python'));
    expect(existsSync(join(venv, 'pyvenv.cfg'))).toBe(true);
    const moto = execFileSync(python, ['-c', 'import importlib.metadata as m; print(m.version("moto"))'])
      .toString()
      .trim();
    expect(moto).toBe('5.2.1');
    // Nothing was installed into the refusing Python.
    expect(() =>
      execFileSync(join(managed, 'bin', 'python'), ['-c', 'import moto'], { stdio: 'ignore' }),
    ).toThrow();
  });
});
