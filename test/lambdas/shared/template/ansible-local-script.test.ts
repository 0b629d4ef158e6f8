/**
 * The ansible-local run.sh, run by bash in a folder laid out as the command document downloads it, with stand-ins
 * for ansible-galaxy and ansible-playbook that record their arguments: Galaxy's roles/collections choice, the
 * upload layout and the exit codes, as Packer's Provision does them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ansibleLocalScript } from '../../../../lambdas/shared/scripts/ansible-local.js';
import type { GuestSource } from '../../../../lambdas/shared/scripts/guest.js';
import type { AnsibleLocalProvisioner } from '../../../../lambdas/shared/template/provisioners/ansible-local.js';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ansible-script-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const s3 = (key: string) => ({ kind: 's3' as const, bucket: 'b', key, uri: `s3://b/${key}` });
const file = (key: string, basename: string): GuestSource => ({
  uri: `s3://b/${key}`,
  bucket: 'b',
  layout: 'file',
  objects: [{ key, relative: '' }],
  basename,
});

function provisioner(changes: Partial<AnsibleLocalProvisioner>): AnsibleLocalProvisioner {
  return {
    type: 'ansible-local',
    index: 0,
    name: 'ansible-local',
    command: 'ansible-playbook',
    extraArguments: [],
    playbookFile: s3('p/site.yml'),
    playbookFiles: [],
    playbookPaths: [],
    rolePaths: [],
    collectionPaths: [],
    inventoryGroups: ['web'],
    galaxyCommand: 'ansible-galaxy',
    galaxyForceInstall: false,
    cleanStagingDirectory: false,
    environmentVars: [],
    stagingDirectory: join(root, 'staging dir'),
    maxRetries: 0,
    timeoutSeconds: 60,
    pauseBeforeSeconds: 0,
    ...changes,
  };
}

/** Writes the staged folder (objects by key) and runs run.sh with the stand-ins first on PATH. */
function run(p: AnsibleLocalProvisioner, sources: GuestSource[], objects: Record<string, string>, exit = 0) {
  const { script, staged } = ansibleLocalScript({
    provisioner: p,
    sources,
    buildName: 'web',
    builderType: 'amazon-instance',
    uuid: 'u',
    inventorySuffix: 42,
    step: 'Provisioner 1 (ansible-local)',
  });
  const work = join(root, 'work');
  const bin = join(root, 'bin');
  mkdirSync(join(work, 'files'), { recursive: true });
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(work, 'run.sh'), script);
  for (const f of staged) {
    writeFileSync(
      join(work, f.name),
      f.source.kind === 'text' ? f.source.body : (objects[f.source.key] ?? ''),
    );
  }
  const log = join(root, 'calls.log');
  for (const tool of ['ansible-galaxy', 'ansible-playbook']) {
    writeFileSync(
      join(bin, tool),
      `#!/bin/sh\nprintf '%s|%s|%s\\n' "${tool} $*" "$(pwd)" "\${ANSIBLE_ROLES_PATH-unset}" >> '${log}'\nexit ${exit}\n`,
    );
    chmodSync(join(bin, tool), 0o755);
  }
  const result = spawnSync('/bin/bash', ['./run.sh'], {
    cwd: work,
    env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: root },
    encoding: 'utf8',
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(log, 'utf8').trim().split('\n');
  } catch {}
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

const hasBash = (() => {
  try {
    execFileSync('/bin/bash', ['-c', 'true']);
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasBash)('the ansible-local run.sh', () => {
  it('installs Galaxy roles and collections as the requirements file asks, then runs the playbook', () => {
    // Prepare
    const staging = join(root, 'staging dir');
    const p = provisioner({ galaxyFile: s3('p/requirements.yml'), galaxyForceInstall: true });
    const sources = [file('p/site.yml', 'site.yml'), file('p/requirements.yml', 'requirements.yml')];

    // Act
    const result = run(p, sources, {
      'p/site.yml': '- hosts: all\n',
      'p/requirements.yml': 'roles:\n  - name: x\ncollections:\n  - name: y\n',
    });

    // Assess
    expect(result.status).toBe(0);
    expect(result.calls).toEqual([
      `ansible-galaxy install -r ${staging}/requirements.yml -p ${staging}/galaxy_roles -f|${staging}|unset`,
      `ansible-galaxy collection install -r ${staging}/requirements.yml -p ${staging}/galaxy_collections -f|${staging}|unset`,
      `ansible-playbook ${staging}/site.yml --extra-vars packer_build_name=web packer_builder_type=amazon-instance packer_http_addr=ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER -o IdentitiesOnly=yes -c local -i ${staging}/packer-provisioner-ansible-local42|${staging}|:${staging}/galaxy_roles`,
    ]);
    expect(readFileSync(join(staging, 'packer-provisioner-ansible-local42'), 'utf8')).toBe(
      '[web]\n127.0.0.1\n',
    );
    expect(readFileSync(join(staging, 'site.yml'), 'utf8')).toBe('- hosts: all\n');
  });

  it('installs only roles from a v1 requirements file (no collections: key)', () => {
    const p = provisioner({ galaxyFile: s3('p/requirements.yml') });
    const sources = [file('p/site.yml', 'site.yml'), file('p/requirements.yml', 'requirements.yml')];
    const result = run(p, sources, { 'p/requirements.yml': '- src: geerlingguy.java\n' });
    expect(result.calls).toHaveLength(2);
    expect(result.calls[0]).toMatch(/^ansible-galaxy install -r .+\/requirements\.yml -p /);
    expect(result.calls[1]).toMatch(/^ansible-playbook /);
    // A v1 file has no `roles:` key, so ANSIBLE_ROLES_PATH is not extended (Packer's behaviour).
    expect(result.calls[1]?.endsWith('|unset')).toBe(true);
  });

  it("fails with Packer's messages and the tool's exit code", () => {
    const result = run(provisioner({}), [file('p/site.yml', 'site.yml')], {}, 4);
    expect(result.status).toBe(4);
    expect(result.stderr).toContain('Error executing Ansible: Non-zero exit status: 4');

    const missing = run(
      provisioner({ command: 'no-such-ansible-playbook' }),
      [file('p/site.yml', 'site.yml')],
      {},
    );
    expect(missing.status).toBe(127);
    expect(missing.stderr).toContain(
      'Error executing Ansible: no-such-ansible-playbook could not be found. Verify that it is available on the\nPATH after connecting to the machine.',
    );
  });
});
