/**
 * `ami-builder inspect [options] TEMPLATE`: prints the execution input a template stands for, as JSON on standard
 * output: `{ "template": …, "vars": {…}, "only": […], "except": […] }`, the input `ami-builder build` sends once
 * local files are staged. For an HCL2 template (a `.pkr.hcl` file or a folder) it is the converted JSON
 * template, with its variables, `-var-file`, `-var`, `PKR_VAR_*`, `-only` and `-except` applied, and sensitive
 * variables kept as `sensitive-variables` with their values in `vars`: what to start an execution with from the
 * AWS CLI, the console or a schedule. The input is validated first (as `ami-builder validate` does); an invalid
 * template prints its problems and exits 1.
 */
import { randomUUID } from 'node:crypto';
import { checkTemplate, formatProblems } from '../lambdas/shared/template/validate.js';
import { flagUsage, listFlag, parseArgs, TEMPLATE_FLAGS, varFlags } from './args.js';
import { localFileChecker } from './files.js';
import type { CliIo, Command } from './io.js';
import { readRequest, TemplateInputError } from './prepare.js';

const FLAGS = TEMPLATE_FLAGS;

const USAGE = [
  'Usage: ami-builder inspect [options] TEMPLATE',
  '',
  '  Prints, as JSON, the execution input the template stands for: { template, vars, only, except }.',
  '  TEMPLATE is a JSON file, - for stdin, an HCL2 .pkr.hcl file, or a folder of .pkr.hcl files.',
  '  Local files are not uploaded: ami-builder build does that.',
  '',
  'Options:',
  '',
  ...flagUsage(FLAGS),
].join('\n');

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  const vars = varFlags(args);
  if (args.positional.length !== 1) args.errors.push('inspect expects exactly one TEMPLATE argument');
  if (args.errors.length > 0) {
    for (const e of args.errors) io.err(e);
    io.err('');
    io.err(USAGE);
    return 1;
  }
  const now = new Date();
  const only = listFlag(args, 'only');
  const except = listFlag(args, 'except');
  let read: Awaited<ReturnType<typeof readRequest>>;
  try {
    read = await readRequest(
      {
        file: args.positional[0] ?? '',
        vars: new Map(vars),
        varFiles: args.values.get('var-file') ?? [],
        only,
        except,
      },
      io,
      now,
    );
  } catch (error) {
    if (!(error instanceof TemplateInputError)) throw error;
    for (const line of error.lines) io.err(line);
    return 1;
  }
  for (const note of read.notes) io.err(`Note: ${note}`);
  const result = checkTemplate(read.input, {
    mode: 'cli',
    now,
    uuidSeed: randomUUID(),
    vars: Object.fromEntries(read.given),
    only: read.hcl ? undefined : only,
    except: read.hcl ? undefined : except,
    env: (name) => io.env[name],
    templateDir: read.templateDir,
    pwd: io.cwd,
    checkLocalFile: localFileChecker(io.cwd),
  });
  if (result.problems.length > 0) {
    io.err('Template validation failed. Errors are shown below.\n');
    if (read.diagnose !== undefined) for (const line of read.diagnose(result.problems, 'error')) io.err(line);
    else for (const line of formatProblems(result.problems)) io.err(`* ${line}`);
    return 1;
  }
  let input: Record<string, unknown>;
  if (read.hcl) input = read.input as Record<string, unknown>;
  else {
    const given = asRecord(read.input);
    const wrapped =
      given !== undefined && Object.hasOwn(given, 'template') && !Object.hasOwn(given, 'builders');
    input = wrapped ? { ...given } : { template: read.input };
    input.vars = { ...(asRecord(input.vars) ?? {}), ...Object.fromEntries(read.given) };
    if (only !== undefined && only.length > 0) input.only = only;
    if (except !== undefined && except.length > 0) input.except = except;
  }
  io.out(JSON.stringify(input, null, 2));
  return 0;
}

export const command: Command = { usage: USAGE, run };
