/**
 * `ami-builder validate [options] TEMPLATE`: checks a template as `packer validate` does and prints the result
 * in Packer's words: `Template validated successfully.`, or `Template validation failed. Errors are shown
 * below.` with each build's errors. Exits 0 or 1. Local files (`x509_cert_path`, scripts, …) are checked
 * with Packer's messages; the workflow would need them in S3, and `ami-builder build` uploads them.
 */
import { randomUUID } from 'node:crypto';
import { checkTemplate, formatProblems, type ValidationReport } from '../lambdas/shared/template/validate.js';
import { flagUsage, listFlag, parseArgs, TEMPLATE_FLAGS, varFlags } from './args.js';
import { localFileChecker } from './files.js';
import type { CliIo, Command } from './io.js';
import { type ReadTemplate, readRequest, TemplateInputError } from './prepare.js';

const FLAGS = {
  ...TEMPLATE_FLAGS,
  'syntax-only': {
    kind: 'boolean',
    description: 'Only check the syntax; do not validate the configuration.',
  },
} as const;

const USAGE = [
  'Usage: ami-builder validate [options] TEMPLATE',
  '',
  '  Checks that the template is valid: its syntax, every key of each amazon-instance',
  '  builder, the provisioners and post-processors. TEMPLATE is a JSON file, - for stdin,',
  '  an HCL2 .pkr.hcl file, or a folder of .pkr.hcl files (with *.auto.pkrvars.hcl).',
  '',
  'Options:',
  '',
  ...flagUsage(FLAGS),
].join('\n');

/** Packer's `-machine-readable` line: `<unix time>,<target>,<type>,<data…>`, each datum escaped. */
function machineLine(type: string, data: readonly string[], target = ''): string {
  const escaped = data.map((d) =>
    d.replaceAll(',', '%!(PACKER_COMMA)').replaceAll('\r', '\\r').replaceAll('\n', '\\n'),
  );
  return [String(Math.floor(Date.now() / 1000)), target, type, ...escaped].join(',');
}

interface Printer {
  say: (text: string) => void;
  error: (text: string) => void;
}

function printer(io: CliIo, machineReadable: boolean): Printer {
  if (machineReadable) {
    return {
      say: (t) => io.out(machineLine('ui', ['say', t])),
      error: (t) => io.out(machineLine('ui', ['error', t])),
    };
  }
  return { say: (t) => io.out(t), error: (t) => io.err(t) };
}

/** JSON.parse with Packer's message (and the line and column when the parser gives the position). */
export function parseTemplateText(text: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = /at position (\d+)/.exec(message)?.[1];
    if (offset === undefined) return { error: `Failed to parse template: Error parsing JSON: ${message}` };
    const before = text.slice(0, Number(offset));
    const line = before.split('\n').length;
    const column = Number(offset) - before.lastIndexOf('\n');
    const lines = text.split('\n');
    const shown = [
      ...(line > 1 ? [`${String(line - 1).padStart(5)}: ${lines[line - 2] ?? ''}`] : []),
      `${String(line).padStart(5)}: ${lines[line - 1] ?? ''}`,
      `${' '.repeat(column + 6)}^`,
    ];
    return {
      error: `Failed to parse template: Error parsing JSON: ${message}\nAt line ${line}, column ${column} (offset ${offset}):\n${shown.join('\n')}`,
    };
  }
}

function section(title: string, messages: readonly string[]): string {
  return `${title} ${messages.length} error(s) occurred:\n\n${messages.map((m) => `* ${m}`).join('\n')}`;
}

function printReport(
  result: ValidationReport,
  out: Printer,
  syntaxOnly: boolean,
  diagnose: ReadTemplate['diagnose'],
): number {
  for (const skip of result.template?.skipped ?? []) {
    out.say(`Skipping build '${skip.name}' (${skip.type}): ${skip.reason}`);
  }
  if (result.problems.length > 0 && diagnose !== undefined) {
    out.error('Template validation failed. Errors are shown below.\n');
    for (const line of diagnose(result.problems, 'error')) out.error(line);
    return 1;
  }
  if (result.problems.length > 0) {
    const sections: string[] = [];
    const general = result.problems.filter((p) => p.build === undefined);
    if (general.length > 0)
      sections.push(section('Errors validating the template.', formatProblems(general)));
    for (const build of result.builds) {
      const own = result.problems.filter((p) => p.build === build);
      if (own.length > 0) sections.push(section(`Errors validating build '${build}'.`, formatProblems(own)));
    }
    out.error('Template validation failed. Errors are shown below.\n');
    out.error(sections.join('\n\n'));
    return 1;
  }
  if (syntaxOnly) {
    out.say('Syntax-only check passed. Everything looks okay.');
    return 0;
  }
  const warnings = result.warnings;
  if (warnings.length > 0) {
    out.say('Template validation succeeded, but there were some warnings.');
    out.say('These are ONLY WARNINGS, and ami-builder will attempt to build the');
    out.say('template despite them, but they should be paid attention to.\n');
  }
  if (warnings.length > 0 && diagnose !== undefined) {
    for (const line of diagnose(warnings, 'warning')) out.say(line);
  } else if (warnings.length > 0) {
    const groups = new Map<string, string[]>();
    for (const w of warnings) {
      const title =
        w.build === undefined ? 'Warnings for the template:\n' : `Warnings for build '${w.build}':\n`;
      groups.set(title, [...(groups.get(title) ?? []), formatProblems([w])[0] ?? w.message]);
    }
    for (const [title, list] of groups) {
      out.say(title);
      for (const w of list) out.say(`* ${w}`);
      out.say('');
    }
  }
  out.say('Template validated successfully.');
  return 0;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  const vars = varFlags(args);
  const out = printer(io, args.booleans.get('machine-readable') === true);
  if (args.positional.length !== 1) args.errors.push('validate expects exactly one TEMPLATE argument');
  for (const note of args.notes) io.err(`Note: ${note}`);
  if (args.errors.length > 0) {
    for (const e of args.errors) io.err(e);
    io.err('');
    io.err(USAGE);
    return 1;
  }
  const file = args.positional[0] ?? '';
  const now = new Date();
  let read: ReadTemplate;
  try {
    read = await readRequest(
      {
        file,
        vars: new Map(vars),
        varFiles: args.values.get('var-file') ?? [],
        only: listFlag(args, 'only'),
        except: listFlag(args, 'except'),
      },
      io,
      now,
    );
  } catch (error) {
    if (!(error instanceof TemplateInputError)) throw error;
    for (const line of error.lines) out.error(line);
    return 1;
  }
  for (const note of read.notes) out.say(`Note: ${note}`);

  const syntaxOnly = args.booleans.get('syntax-only') === true;
  const result = checkTemplate(read.input, {
    mode: 'cli',
    now,
    uuidSeed: randomUUID(),
    vars: Object.fromEntries(read.given),
    only: read.hcl ? undefined : listFlag(args, 'only'),
    except: read.hcl ? undefined : listFlag(args, 'except'),
    env: (name) => io.env[name],
    templateDir: read.templateDir,
    pwd: io.cwd,
    syntaxOnly,
    checkLocalFile: localFileChecker(io.cwd),
  });
  return printReport(result, out, syntaxOnly, read.diagnose);
}

export const command: Command = { usage: USAGE, run };
