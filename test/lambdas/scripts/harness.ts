/**
 * Runs a generated `run.sh` under real bash, the way the command document does (`umask 077; exec /bin/bash
 * ./run.sh` in the downloaded folder), in a temporary directory with a PATH that holds only:
 * - links to the few real tools the scripts may use (so a script that needs anything else fails loudly), and
 * - stubs for `ec2-bundle-vol`, `ec2-upload-bundle`, `sudo`, `runuser`, `chown`, `id`, `curl` and `wget` that
 *   record their arguments (NUL-separated, one file per call) and, for curl/wget, serve an IMDSv2 stub with fake
 *   instance-profile credentials.
 *
 * Config paths in the tests (x509 upload path, bundle destination, remote folder, file destinations) point into
 * the temporary directory, so the scripts need no test hook.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Credentials the IMDS stub serves. Tests assert they reach the upload tool and appear nowhere else. */
export const FAKE_CREDENTIALS = {
  accessKeyId: 'ASIAFAKEACCESSKEY001',
  secretAccessKey: 'fakeSecretAccessKey/With+Slash=0123456789ab',
  token: 'FAKESESSIONTOKEN//stub+token==AQoDYXdzEJr1234567890',
  role: 'ami-builder-instance-role',
} as const;

/** The IMDSv2 token the stub issues and then requires. */
export const FAKE_IMDS_TOKEN = 'FAKE-IMDS-TOKEN-42';

/** Real tools linked into the stub PATH. Anything else a script calls is "command not found" (127). */
const REAL_TOOLS = [
  'bash',
  'sh',
  'cat',
  'chmod',
  'mkdir',
  'mktemp',
  'mv',
  'rm',
  'rmdir',
  'sed',
  'head',
  'ls',
  'touch',
  'env',
  'printenv',
  'grep',
  'find',
];

const RECORD = `
n=0
while [ -e "$STUB_LOG_DIR/$tool.$n" ]; do n=$((n + 1)); done
printf '%s\\0' "$@" >"$STUB_LOG_DIR/$tool.$n"
`;

const STUBS: Record<string, string> = {
  'ec2-bundle-vol': `#!/bin/bash
tool=ec2-bundle-vol
${RECORD}
dest= prefix=
while [ $# -gt 0 ]; do
  case "$1" in
    -d) dest=$2; shift ;;
    -p) prefix=$2; shift ;;
  esac
  shift
done
if [ -n "$dest" ] && [ -n "$prefix" ] && [ "\${STUB_BUNDLE_EXIT:-0}" = 0 ]; then
  printf 'manifest\\n' >"$dest/$prefix.manifest.xml"
fi
if [ -n "\${STUB_PROBE:-}" ]; then
  if [ -e "$STUB_PROBE" ]; then echo present; else echo absent; fi >"$STUB_LOG_DIR/probe"
fi
echo "ec2-bundle-vol stub: bundling"
if [ -n "\${STUB_BUNDLE_STDERR:-}" ]; then echo "$STUB_BUNDLE_STDERR" >&2; fi
exit "\${STUB_BUNDLE_EXIT:-0}"
`,
  'ec2-upload-bundle': `#!/bin/bash
tool=ec2-upload-bundle
${RECORD}
env | grep '^AMI_BUILDER_' | sort >"$STUB_LOG_DIR/ec2-upload-bundle.env.$n"
echo "ec2-upload-bundle stub: uploading"
exit "\${STUB_UPLOAD_EXIT:-0}"
`,
  sudo: `#!/bin/bash
tool=sudo
${RECORD}
while [ $# -gt 0 ]; do
  case "$1" in
    -u) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
exec "$@"
`,
  runuser: `#!/bin/bash
tool=runuser
${RECORD}
while [ $# -gt 0 ]; do
  case "$1" in
    -u) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
exec "$@"
`,
  chown: `#!/bin/bash
tool=chown
${RECORD}
exit 0
`,
  id: `#!/bin/bash
tool=id
${RECORD}
user=
for a in "$@"; do user=$a; done
if [ "$user" = "\${STUB_MISSING_USER:-}" ]; then echo "id: '$user': no such user" >&2; exit 1; fi
echo 1001
`,
  curl: `#!/bin/bash
tool=curl
${RECORD}
method=GET token= url=
while [ $# -gt 0 ]; do
  case "$1" in
    -X) method=$2; shift ;;
    -H) case "$2" in "X-aws-ec2-metadata-token: "*) token=\${2#X-aws-ec2-metadata-token: } ;; esac; shift ;;
    --max-time) shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
. "$STUB_DIR/imds.sh"
imds "$method" "$token" "$url"
`,
  wget: `#!/bin/bash
tool=wget
${RECORD}
method=GET token= url=
while [ $# -gt 0 ]; do
  case "$1" in
    --method=*) method=\${1#--method=} ;;
    --header=X-aws-ec2-metadata-token:\\ *) token=\${1#--header=X-aws-ec2-metadata-token: } ;;
    -O|-T) shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
. "$STUB_DIR/imds.sh"
imds "$method" "$token" "$url"
`,
};

const IMDS = `
imds() {
  local method=$1 token=$2 url=$3
  case "$method $url" in
    "PUT http://169.254.169.254/latest/api/token")
      if [ -n "\${STUB_IMDS_V1_ONLY:-}" ]; then return 22; fi
      printf '%s' '${FAKE_IMDS_TOKEN}'; return 0 ;;
  esac
  if [ "$method" != GET ]; then return 22; fi
  if [ -z "\${STUB_IMDS_V1_ONLY:-}" ] && [ "$token" != '${FAKE_IMDS_TOKEN}' ]; then return 22; fi
  case "$url" in
    http://169.254.169.254/latest/meta-data/iam/security-credentials/)
      [ -z "\${STUB_IMDS_NO_ROLE:-}" ] || return 22
      printf '%s\\n' '${FAKE_CREDENTIALS.role}' ;;
    http://169.254.169.254/latest/meta-data/iam/security-credentials/${FAKE_CREDENTIALS.role})
      printf '{\\n  "Code" : "Success",\\n  "LastUpdated" : "2024-01-02T00:00:00Z",\\n  "Type" : "AWS-HMAC",\\n'
      printf '  "AccessKeyId" : "%s",\\n' '${FAKE_CREDENTIALS.accessKeyId}'
      printf '  "SecretAccessKey" : "%s",\\n' '${FAKE_CREDENTIALS.secretAccessKey}'
      printf '  "Token" : "%s",\\n' '${FAKE_CREDENTIALS.token}'
      printf '  "Expiration" : "2024-01-02T06:00:00Z"\\n}\\n' ;;
    *) return 22 ;;
  esac
}
`;

export interface Sandbox {
  /** The temporary root: put config paths (x509 upload path, destinations) under it. */
  root: string;
  /** The folder run.sh runs in, like `/var/lib/ami-builder/<execution>/<command>`. */
  workdir: string;
  /** Writes a staged file into the working folder (relative name, e.g. `scripts/0`). */
  stage(name: string, content: string): void;
  /** Runs `run.sh` (the given text) with bash; `env` adds variables for the stubs. */
  run(script: string, env?: Record<string, string>): RunResult;
  /** Every recorded call of a stub, each as its argument list. */
  calls(tool: string): string[][];
  /** Removes a stub or real tool from the PATH (e.g. `curl`, to exercise the wget fallback). */
  withoutTool(tool: string): void;
  dispose(): void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function which(tool: string): string {
  const found = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') throw new Error(`the test needs ${tool} on this machine`);
  return path;
}

export function createSandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'ami-builder-scripts-'));
  const bin = join(root, 'bin');
  const stubs = join(root, 'stubs');
  const logs = join(root, 'calls');
  const workdir = join(root, 'var', 'lib', 'ami-builder', 'exec-1', '02-x509');
  for (const dir of [bin, stubs, logs, workdir, join(root, 'home')]) mkdirSync(dir, { recursive: true });
  for (const tool of REAL_TOOLS) symlinkSync(which(tool), join(bin, tool));
  for (const [tool, body] of Object.entries(STUBS)) {
    writeFileSync(join(bin, tool), body);
    chmodSync(join(bin, tool), 0o755);
  }
  writeFileSync(join(stubs, 'imds.sh'), IMDS);

  return {
    root,
    workdir,
    stage(name, content) {
      const path = join(workdir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content, { mode: 0o600 });
    },
    run(script, env = {}) {
      mkdirSync(workdir, { recursive: true });
      writeFileSync(join(workdir, 'run.sh'), script, { mode: 0o600 });
      const result = spawnSync('/bin/bash', ['-c', 'umask 077; exec /bin/bash ./run.sh'], {
        cwd: workdir,
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          PATH: bin,
          HOME: join(root, 'home'),
          STUB_LOG_DIR: logs,
          STUB_DIR: stubs,
          ...env,
        },
      });
      return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
    },
    calls(tool) {
      return readdirSync(logs)
        .filter((f) => new RegExp(`^${tool.replace(/[.-]/g, '\\$&')}\\.\\d+$`).test(f))
        .sort((a, b) => Number(a.slice(tool.length + 1)) - Number(b.slice(tool.length + 1)))
        .map((f) => {
          const text = readFileSync(join(logs, f), 'utf8');
          return text === '' ? [] : text.slice(0, -1).split('\0');
        });
    },
    withoutTool(tool) {
      if (existsSync(join(bin, tool))) rmSync(join(bin, tool));
    },
    dispose() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
