/**
 * Error texts that say what to do next: a template file that cannot be read, and the AWS SDK's set-up errors
 * (no region, no credentials), which otherwise read like `Error: Error: Region is missing`.
 */

/** `template file not found: x.json (looked in /work): check the path` and the like, for a failed read. */
export function readFailure(what: string, file: string, cwd: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${what} not found: ${file} (relative paths start from ${cwd}): check the path`;
    case 'EISDIR':
      return `${what} is a directory, not a file: ${file}: name the JSON file in it`;
    case 'EACCES':
    case 'EPERM':
      return `${what} cannot be read: ${file}: permission denied (check its permissions)`;
    default:
      return `${what} cannot be read: ${file}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** One line for an error of the AWS SDK or the CLI, with the next step when the cause is the set-up. */
export function describeRunError(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown } | undefined;
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (/Region is missing/i.test(message)) {
    return 'Error: no AWS region is configured: pass --region R, or set AWS_REGION (or a region in your AWS profile)';
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return `Error: no AWS credentials were found (${message}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run "aws sso login"`;
  }
  if (name === 'ExpiredTokenException' || (/expired/i.test(message) && /token/i.test(message))) {
    return `Error: your AWS session has expired (${message}): sign in again (for example "aws sso login")`;
  }
  return name === 'Error' || message.startsWith(`${name}:`)
    ? `Error: ${message}`
    : `Error: ${name}: ${message}`;
}
