/**
 * The part of a failed command's output that goes into an error message: the last lines of stderr and stdout,
 * with anything that looks like a credential or key removed first. Error messages end up in the execution
 * history (`$.error.Cause`), so they must never carry a secret, and they must stay small.
 */

/** Lines of each stream quoted in an error message. */
export const TAIL_LINES = 20;

/** Longest line quoted; longer ones are cut (a progress bar or a minified blob says nothing useful). */
const MAX_LINE_CHARS = 300;

const REDACTED = '[REDACTED]';

// Order matters: whole PEM blocks first, then key=value forms, then bare tokens.
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  // A PEM block, also one cut off by the 24,000/8,000-character limit of GetCommandInvocation.
  [/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g, '[REDACTED PEM BLOCK]'],
  // Presigned URL parts.
  [/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']+/gi, `$1${REDACTED}`],
  // key = value, key: value, "key": "value", --key value, -s value (ec2-upload-bundle's secret and token flags).
  [
    /((?:aws_)?(?:secret_access_key|secret[_-]?key|session[_-]?token|security[_-]?token|secretaccesskey|password|passwd|token)["']?\s*[:=]\s*["']?)[^\s"',;]+/gi,
    `$1${REDACTED}`,
  ],
  [/((?:^|\s)(?:-s|-t|--secret-key|--session-token|--delegation-token)\s+)\S+/gm, `$1${REDACTED}`],
  // Access key ids (AKIA…, ASIA…).
  [/\b(?:AKIA|ASIA|AROA|AIDA|AGPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}\b/g, REDACTED],
  // Session tokens and other long base64 runs.
  [/[A-Za-z0-9/+=]{100,}/g, REDACTED],
];

// A 40-character secret access key: base64 characters with upper case, lower case and a digit (so that a hex
// SHA-1 or a word does not match), not part of a longer run.
const SECRET_KEY = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])/g;

function looksLikeSecretKey(candidate: string): boolean {
  return /[A-Z]/.test(candidate) && /[a-z]/.test(candidate) && /[0-9]/.test(candidate);
}

/** Removes PEM blocks, credentials, tokens and presigned-URL signatures from command output. */
export function scrubSecrets(text: string): string {
  let scrubbed = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) scrubbed = scrubbed.replace(pattern, replacement);
  return scrubbed.replace(SECRET_KEY, (match) => (looksLikeSecretKey(match) ? REDACTED : match));
}

/** The last `count` non-empty-at-the-end lines of a text, each cut to a readable length. */
export function tailLines(text: string, count: number = TAIL_LINES): string[] {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n+$/, '').split('\n');
  if (lines.length === 1 && lines[0] === '') return [];
  return lines
    .slice(-count)
    .map((line) => (line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line));
}

/**
 * The quoted output of a command: the last lines of stderr, then of stdout, scrubbed (whole texts are scrubbed
 * before they are cut, so a PEM block that starts above the cut is still recognized).
 */
export function outputExcerpt(stdout: string | undefined, stderr: string | undefined): string {
  const parts: string[] = [];
  const err = tailLines(scrubSecrets(stderr ?? ''));
  const out = tailLines(scrubSecrets(stdout ?? ''));
  if (err.length > 0) parts.push(`Last lines of stderr:\n${err.map((l) => `  ${l}`).join('\n')}`);
  if (out.length > 0) parts.push(`Last lines of stdout:\n${out.map((l) => `  ${l}`).join('\n')}`);
  return parts.length > 0 ? parts.join('\n\n') : 'The command printed nothing.';
}
