/**
 * Bundle Volume and Upload Bundle (Packer's `StepBundleVolume` and `StepUploadBundle`). Both run the user's
 * rendered command with `/bin/sh -c` as root, as the default commands (`sudo -i -n ec2-bundle-vol …`) expect.
 */
import { BUNDLE_CREDENTIAL_VARIABLES } from '../template/bundle-commands.js';
import { assign, prelude, scriptText, x509Paths } from './common.js';

/** Where Bundle Volume looks for a manifest that a custom `bundle_vol_command` wrote elsewhere (4 levels deep). */
export const MANIFEST_SEARCH_ROOTS = [
  '/tmp',
  '/mnt',
  '/var/tmp',
  '/media',
  '/home',
  '/root',
  '/srv',
  '/data',
];

/** The instance metadata service, IMDSv2 (token first) with an IMDSv1 fallback when no token is issued. */
export const IMDS_BASE = 'http://169.254.169.254/latest';

export interface BundleScriptInput {
  /** `bundle_vol_command`, rendered (`-e {{.PrivatePath}}/*` stays a glob for the shell to expand). */
  volCommand: string;
  /** `x509_upload_path`: its files are removed when bundling fails (no later step would remove them). */
  x509UploadPath: string;
  /**
   * `<bundle_destination>/<bundle_prefix>.manifest.xml`: the step fails when the command leaves no manifest there
   * (naming the manifest it wrote elsewhere, when it finds one), since the upload and Register AMI need it there.
   */
  manifestPath: string;
}

/**
 * Bundle Volume's `run.sh`. It deletes its own download folder before bundling, so that nothing of this system
 * ends up in the image (bash goes on reading the open script). When the command fails, the X.509 files are
 * removed too.
 */
export function bundleScript(input: BundleScriptInput): string {
  const paths = x509Paths(input.x509UploadPath);
  return scriptText([
    ...prelude({
      title: 'Bundling the volume...',
      assignments: [
        ['AMI_BUILDER_STATUS', '1'],
        ['CERT_PATH', paths.certPath],
        ['KEY_PATH', paths.keyPath],
      ],
      onExit: ['[ "$AMI_BUILDER_STATUS" = 0 ] || rm -f -- "$CERT_PATH" "$KEY_PATH"'],
    }),
    assign('MANIFEST_PATH', input.manifestPath),
    assign('VOL_COMMAND', input.volCommand),
    'ami_builder_remove_workdir',
    // A mark older than anything the command writes, to find a manifest it wrote somewhere else. Its time is set
    // back: a file written within the same clock tick as the mark is not -newer than it.
    'AMI_BUILDER_MARK=$(mktemp) || exit 1',
    'touch -d \'2 seconds ago\' "$AMI_BUILDER_MARK" 2>/dev/null || :',
    'printf \'    Running: %s\\n\' "$VOL_COMMAND"',
    '/bin/sh -c "$VOL_COMMAND"',
    'AMI_BUILDER_STATUS=$?',
    'if [ "$AMI_BUILDER_STATUS" -ne 0 ]; then',
    '  rm -f -- "$AMI_BUILDER_MARK"',
    '  echo "bundle_vol_command exited with status $AMI_BUILDER_STATUS" >&2',
    '  exit "$AMI_BUILDER_STATUS"',
    'fi',
    'if [ -f "$MANIFEST_PATH" ]; then',
    '  rm -f -- "$AMI_BUILDER_MARK"',
    '  printf \'    Bundle manifest is %s\\n\' "$MANIFEST_PATH"',
    '  exit 0',
    'fi',
    "ELSEWHERE=''",
    `while IFS= read -r found; do ELSEWHERE="\${ELSEWHERE:+$ELSEWHERE, }$found"; done < <(find ${MANIFEST_SEARCH_ROOTS.join(' ')} -maxdepth 4 -type f -name '*.manifest.xml' -newer "$AMI_BUILDER_MARK" 2>/dev/null)`,
    'rm -f -- "$AMI_BUILDER_MARK"',
    'AMI_BUILDER_STATUS=1',
    'if [ -n "$ELSEWHERE" ]; then',
    '  echo "bundle_vol_command wrote its manifest to $ELSEWHERE, but the upload and Register AMI expect it at $MANIFEST_PATH (<bundle_destination>/<bundle_prefix>.manifest.xml): make the command\'s -d and -p match bundle_destination and bundle_prefix." >&2',
    'else',
    '  echo "bundle_vol_command succeeded but wrote no manifest at $MANIFEST_PATH (<bundle_destination>/<bundle_prefix>.manifest.xml), where the upload and Register AMI expect it." >&2',
    'fi',
    'exit 1',
  ]);
}

export interface UploadScriptInput {
  /** `bundle_upload_command`, rendered: its credentials are references to {@link BUNDLE_CREDENTIAL_VARIABLES}. */
  uploadCommand: string;
  /** `x509_upload_path`: its `cert.pem` and `key.pem` are removed on exit, success or not. */
  x509UploadPath: string;
}

/**
 * Upload Bundle's `run.sh`. It reads the instance-profile credentials from IMDSv2 (curl, else wget; parsed with
 * sed), exports them only to the upload command's environment and never prints them, runs the command, and
 * removes the X.509 files on exit (Packer leaves them in `x509_upload_path`).
 */
export function uploadScript(input: UploadScriptInput): string {
  const paths = x509Paths(input.x509UploadPath);
  const { AccessKey: accessKey, SecretKey: secretKey, Token: token } = BUNDLE_CREDENTIAL_VARIABLES;
  return scriptText([
    ...prelude({
      title: 'Uploading the bundle...',
      assignments: [
        ['CERT_PATH', paths.certPath],
        ['KEY_PATH', paths.keyPath],
      ],
      onExit: ['rm -f -- "$CERT_PATH" "$KEY_PATH"'],
    }),
    'set +x',
    assign('UPLOAD_COMMAND', input.uploadCommand),
    assign('IMDS', IMDS_BASE),
    'if command -v curl >/dev/null 2>&1; then',
    '  AMI_BUILDER_HTTP=curl',
    'elif command -v wget >/dev/null 2>&1; then',
    '  AMI_BUILDER_HTTP=wget',
    'else',
    '  echo "Neither curl nor wget is installed: cannot read the instance-profile credentials from the instance metadata service." >&2',
    '  exit 127',
    'fi',
    'ami_builder_imds_token() {',
    '  if [ "$AMI_BUILDER_HTTP" = curl ]; then',
    '    curl -sf --max-time 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$IMDS/api/token"',
    '  else',
    '    wget -q -O - -T 5 --method=PUT --header="X-aws-ec2-metadata-token-ttl-seconds: 300" "$IMDS/api/token"',
    '  fi',
    '}',
    'ami_builder_imds_get() {',
    '  if [ "$AMI_BUILDER_HTTP" = curl ]; then',
    '    if [ -n "$IMDS_TOKEN" ]; then',
    '      curl -sf --max-time 5 -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "$IMDS/meta-data/$1"',
    '    else',
    '      curl -sf --max-time 5 "$IMDS/meta-data/$1"',
    '    fi',
    '  elif [ -n "$IMDS_TOKEN" ]; then',
    '    wget -q -O - -T 5 --header="X-aws-ec2-metadata-token: $IMDS_TOKEN" "$IMDS/meta-data/$1"',
    '  else',
    '    wget -q -O - -T 5 "$IMDS/meta-data/$1"',
    '  fi',
    '}',
    'ami_builder_json_string() {',
    '  printf \'%s\\n\' "$2" | sed -n "s/.*\\"$1\\"[[:space:]]*:[[:space:]]*\\"\\([^\\"]*\\)\\".*/\\1/p" | head -n 1',
    '}',
    'IMDS_TOKEN=$(ami_builder_imds_token 2>/dev/null) || IMDS_TOKEN=',
    'ROLE=$(ami_builder_imds_get iam/security-credentials/ 2>/dev/null | head -n 1)',
    'case "$ROLE" in',
    "  ''|*[!A-Za-z0-9+=,.@_-]*)",
    '    echo "The instance metadata service names no instance-profile role: is an instance profile attached to the instance?" >&2',
    '    exit 1 ;;',
    'esac',
    'printf \'    %s\\n\' "Using the credentials of the instance profile role $ROLE"',
    'if ! CREDENTIALS=$(ami_builder_imds_get "iam/security-credentials/$ROLE" 2>/dev/null); then',
    '  echo "Could not read the credentials of role $ROLE from the instance metadata service." >&2',
    '  exit 1',
    'fi',
    `${accessKey}=$(ami_builder_json_string AccessKeyId "$CREDENTIALS")`,
    `${secretKey}=$(ami_builder_json_string SecretAccessKey "$CREDENTIALS")`,
    `${token}=$(ami_builder_json_string Token "$CREDENTIALS")`,
    'CREDENTIALS=',
    `if [ -z "$${accessKey}" ] || [ -z "$${secretKey}" ]; then`,
    '  echo "The instance metadata service returned no usable credentials for role $ROLE." >&2',
    '  exit 1',
    'fi',
    `export ${accessKey} ${secretKey} ${token}`,
    '/bin/sh -c "$UPLOAD_COMMAND"',
    'code=$?',
    'if [ "$code" -ne 0 ]; then',
    '  echo "bundle_upload_command exited with status $code" >&2',
    'fi',
    'exit "$code"',
  ]);
}
