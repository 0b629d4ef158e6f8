/**
 * `ami-builder resume EXECUTION [options] TEMPLATE`: starts a new execution that resumes the builds of a failed
 * execution (`on_error: abort`, or `-on-error=abort`) at their failed step, on the instance they kept, with the
 * template as it is now; then follows it like `build`. The template is staged as `build` stages it; the
 * execution input is `{ "resume": "<execution ARN>", "template": … }` (README, "Resume a failed build").
 */
import { BUILD_USAGE, defaultBuildDeps, runBuild } from './build.js';
import type { Command } from './io.js';

export const RESUME_USAGE = [
  'Usage: ami-builder resume EXECUTION [options] TEMPLATE',
  '',
  '  Resumes a build that failed with on_error: abort (or -on-error=abort) in a new execution: it adopts the',
  '  kept instance, security group and instance role, runs the failed step again with TEMPLATE as it is now',
  '  (the fixed script), and goes on to the end with the failed build’s AMI name and bundle prefix.',
  '  EXECUTION is the failed execution’s ARN or name. The steps before the failed one must be unchanged.',
  '',
  ...BUILD_USAGE.split('\n').slice(BUILD_USAGE.split('\n').indexOf('Options:')),
].join('\n');

export const command: Command = {
  usage: RESUME_USAGE,
  run: async (args, io) => {
    const [execution, ...rest] = args;
    if (execution === undefined || execution.startsWith('-')) {
      io.err('ami-builder resume: the first argument must be the failed execution (its ARN or name)');
      io.err('');
      io.err(RESUME_USAGE);
      return 1;
    }
    return runBuild(rest, io, defaultBuildDeps(io), { resume: execution });
  },
};
