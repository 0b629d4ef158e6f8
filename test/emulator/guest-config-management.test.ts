/**
 * The chef-solo and salt-call stand-ins of the sandbox (emulator/guest/), run directly: they read what the
 * provisioners stage and fail as the real tools fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
const guest = join(root, 'emulator', 'guest');
/** The emulator's Python (it has moto's Jinja2 and PyYAML), found as the CLI finds it. */
const python =
  process.env.AMI_BUILDER_PYTHON ??
  (existsSync(join(root, '.venv', 'bin', 'python')) ? join(root, '.venv', 'bin', 'python') : 'python3');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ami-builder-cm-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function files(tree: Record<string, string>): void {
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text.replaceAll('@DIR@', dir));
  }
}

function run(tool: string, args: string[]) {
  const result = spawnSync(python, [join(guest, tool), ...args], { cwd: dir, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the chef-solo stand-in', () => {
  beforeEach(() => {
    files({
      'solo.rb': `chef_license "accept-silent"\ncookbook_path ["@DIR@/missing", "@DIR@/cookbooks"]\nrole_path "@DIR@/roles"\n`,
      'cookbooks/app/recipes/default.rb':
        'file "@DIR@/out.txt" do\n  content "port #{node[\'app\'][\'port\']}"\n  mode "0600"\nend\ninclude_recipe "app::run"\n',
      'cookbooks/app/recipes/run.rb': 'execute "echo ran >> @DIR@/ran.txt"\n',
      'cookbooks/app/attributes/default.json': '{"port": 80}',
      'roles/web.json': '{"run_list": ["recipe[app]"]}',
      'node.json': '{"app": {"port": 8080}, "run_list": ["role[web]"]}',
    });
  });

  it('expands the run list, merges attributes and converges file and execute resources', () => {
    // Act
    const result = run('chef-solo', ['--no-color', '-c', 'solo.rb', '-j', 'node.json']);

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('port 8080');
    expect(readFileSync(join(dir, 'ran.txt'), 'utf8')).toBe('ran\n');
    expect(result.stdout).toContain('Recipe: app::run');
    expect(result.stdout).toContain('Chef Infra Client finished, 2/2 resources updated');
  });

  it.each([
    [
      'a missing recipe',
      ['-o', 'recipe[app::nope]'],
      1,
      'Chef::Exceptions::RecipeNotFound: could not find recipe nope for cookbook app',
    ],
    [
      'a missing cookbook',
      ['-o', 'ghost'],
      1,
      'Chef::Exceptions::CookbookNotFound: Cookbook ghost not found',
    ],
    ['a missing role', ['-o', 'role[db]'], 1, 'Chef::Exceptions::RoleNotFound'],
    ['an unknown option', ['--bogus'], 2, 'chef-solo: invalid option: --bogus'],
  ])('fails on %s', (_, extra, code, message) => {
    // Act
    const result = run('chef-solo', ['-c', 'solo.rb', '-j', 'node.json', ...extra]);

    // Assess
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(message);
  });

  it('refuses to run without an accepted license, and fails on a method it does not know', () => {
    // Prepare
    files({
      'unlicensed.rb': 'chef_license ""\ncookbook_path ["@DIR@/cookbooks"]\n',
      'cookbooks/bad/recipes/default.rb': 'package "nginx"\n',
    });

    // Act
    const unlicensed = run('chef-solo', ['-c', 'unlicensed.rb', '-j', 'node.json', '-o', 'app']);
    const unknown = run('chef-solo', ['-c', 'solo.rb', '-j', 'node.json', '-o', 'bad']);

    // Assess
    expect(unlicensed.code).toBe(172);
    expect(unlicensed.stderr).toContain('cannot execute without accepting the license');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("NoMethodError: undefined method `package'");
  });
});

describe('the salt-call stand-in', () => {
  beforeEach(() => {
    files({
      'states/top.sls': "base:\n  '*':\n    - app\n",
      'states/app/init.sls':
        "conf:\n  file.managed:\n    - name: @DIR@/app.conf\n    - contents: \"port={{ pillar['port'] }} os={{ grains['os_family'] }}\"\n",
      'states/broken.sls': 'fails:\n  cmd.run:\n    - name: exit 4\n',
      'pillar/top.sls': "base:\n  '*':\n    - data\n",
      'pillar/data.sls': 'port: 8080\n',
    });
  });

  const roots = () => [
    `--file-root=${join(dir, 'states')}`,
    `--pillar-root=${join(dir, 'pillar')}`,
    `--config-dir=${dir}`,
  ];

  it('applies the highstate with pillar and grains, printing Salt’s summary', () => {
    // Act
    const result = run('salt-call', [
      '--local',
      'state.highstate',
      ...roots(),
      '--retcode-passthrough',
      '-l',
      'info',
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(join(dir, 'app.conf'), 'utf8')).toBe('port=8080 os=Debian');
    expect(result.stdout).toContain('Succeeded: 1 (changed=1)');
  });

  it.each([
    ['a failing state', ['state.sls', 'broken'], true, 2, 'Failed:      1'],
    ['a failing state without --retcode-passthrough', ['state.sls', 'broken'], false, 0, 'Failed:      1'],
    ['a missing SLS', ['state.sls', 'ghost'], true, 1, "No matching sls found for 'ghost' in env 'base'"],
    [
      'a missing SLS without --retcode-passthrough',
      ['state.sls', 'ghost'],
      false,
      0,
      'Data failed to compile',
    ],
  ])('returns as Salt does on %s', (_, call, passthrough, code, output) => {
    // Act
    const result = run('salt-call', [
      '--local',
      ...call,
      ...roots(),
      ...(passthrough ? ['--retcode-passthrough'] : []),
    ]);

    // Assess
    expect(result.code).toBe(code);
    expect(result.stdout).toContain(output);
  });

  it('fails on an unknown option and without --local, as Salt does', () => {
    expect(run('salt-call', ['--local', 'state.highstate', '--bogus']).code).toBe(2);
    const noMaster = run('salt-call', ['state.highstate', `--config-dir=${dir}`]);
    expect(noMaster.code).toBe(2);
    expect(noMaster.stderr).toContain('Is master at salt responding?');
  });
});
