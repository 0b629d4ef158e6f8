/**
 * Upload X509 Certificate (Packer's `StepUploadX509Cert`): the staged `cert.pem` and `key.pem`, downloaded by
 * the instance itself with its own role, are installed as `<x509_upload_path>/cert.pem` and `key.pem`, mode 0600,
 * owned by root. Packer copies them over SCP; neither the key nor a link to it travels in the command here.
 */
import { assign, message, prelude, scriptText, x509Paths } from './common.js';

/** The staged names of the certificate and key in the command folder. */
export const X509_STAGED_CERT = 'cert.pem';
export const X509_STAGED_KEY = 'key.pem';

export interface X509ScriptInput {
  /** `x509_upload_path`. Created (mode 0700) when missing; an existing directory keeps its mode. */
  uploadPath: string;
}

export function x509Script(input: X509ScriptInput): string {
  const paths = x509Paths(input.uploadPath);
  return scriptText([
    ...prelude({ title: 'Uploading X509 Certificate...' }),
    assign('X509_DIR', paths.dir),
    assign('CERT_PATH', paths.certPath),
    assign('KEY_PATH', paths.keyPath),
    `for staged in ${X509_STAGED_CERT} ${X509_STAGED_KEY}; do`,
    '  if [ ! -s "$staged" ]; then',
    '    echo "The staged $staged is missing or empty: the instance role could not download it." >&2',
    '    exit 1',
    '  fi',
    'done',
    'if [ ! -d "$X509_DIR" ]; then',
    '  mkdir -p -m 0700 -- "$X509_DIR" || exit 1',
    'fi',
    // mktemp creates the file 0600 and exclusively, in the target directory, so the key is never readable by
    // others and a file or symlink planted at the target is replaced, not written through.
    'ami_builder_install_secret() {',
    '  local tmp',
    '  if [ -d "$2" ]; then echo "Cannot write $2: it is a directory" >&2; return 1; fi',
    '  tmp=$(mktemp -- "$X509_DIR/.ami-builder-x509.XXXXXXXX") || return 1',
    '  if cat -- "$1" >"$tmp" && chmod 0600 -- "$tmp" && chown -- 0:0 "$tmp" && mv -f -- "$tmp" "$2"; then',
    '    return 0',
    '  fi',
    '  rm -f -- "$tmp"',
    '  return 1',
    '}',
    `ami_builder_install_secret ${X509_STAGED_CERT} "$CERT_PATH" || exit 1`,
    `ami_builder_install_secret ${X509_STAGED_KEY} "$KEY_PATH" || exit 1`,
    `rm -f -- ${X509_STAGED_CERT} ${X509_STAGED_KEY}`,
    message(`Installed ${paths.certPath} and ${paths.keyPath} (mode 0600, owner root)`),
    'exit 0',
  ]);
}
