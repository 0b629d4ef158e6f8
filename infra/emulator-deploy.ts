/**
 * A plain `cdk deploy` into the local emulator would wait for ever: moto's CloudFormation never moves a change set
 * to a final status, and the CDK CLI's default method deploys through change sets. When the app is synthesized for
 * a `cdk deploy` (found among this process's ancestors, on Linux) against a loopback AWS_ENDPOINT_URL without
 * `--method=direct`, it stops at once and says the command that works.
 */
import { readFileSync } from 'node:fs';

/** The command lines of this process's ancestors, nearest first (empty where /proc is not available). */
export function ancestorCommandLines(pid: number = process.ppid, depth = 8): string[][] {
  const lines: string[][] = [];
  let current = pid;
  for (let i = 0; i < depth && current > 1; i += 1) {
    try {
      lines.push(
        readFileSync(`/proc/${current}/cmdline`, 'utf8')
          .split('\0')
          .filter((a) => a !== ''),
      );
      const stat = readFileSync(`/proc/${current}/stat`, 'utf8');
      current = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return lines;
}

/** The refusal, or undefined when the deploy can go on. */
export function emulatorDeployProblem(
  endpoint: string | undefined,
  ancestors: readonly string[][],
): string | undefined {
  if (endpoint === undefined || !/^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?\/?$/.test(endpoint)) {
    return undefined;
  }
  const cdk = ancestors.find(
    (args) => args.some((a) => /(^|\/)cdk(\.js)?$/.test(a)) && args.includes('deploy'),
  );
  if (cdk === undefined) return undefined;
  const direct = cdk.some(
    (a, i) => a === '--method=direct' || ((a === '--method' || a === '-m') && cdk[i + 1] === 'direct'),
  );
  if (direct) return undefined;
  return (
    `cdk deploy against the emulator at ${endpoint} needs --method=direct (moto's change sets never finish, so ` +
    'the default method would wait for ever). Run: npx cdk deploy --method=direct --require-approval never ' +
    '(or npm run deploy:local, which also starts the emulator)'
  );
}
