/**
 * `ami-builder <command> [args]`: dispatches to the commands of ./commands.ts.
 */
import { pathToFileURL } from 'node:url';
import { commands } from './commands.js';
import { type CliIo, processIo } from './io.js';

function usage(io: CliIo): void {
  io.err('Usage: ami-builder <command> [args]');
  io.err('');
  io.err('Available commands are:');
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  for (const [name, entry] of Object.entries(commands).sort(([a], [b]) => a.localeCompare(b))) {
    io.err(`    ${name.padEnd(width)}    ${entry.summary}`);
  }
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  // Packer's `packer --version` / `-version` / `-v`.
  const name = first === '--version' || first === '-version' || first === '-v' ? 'version' : first;
  if (name === undefined || name === '-h' || name === '--help' || name === '-help' || name === 'help') {
    usage(io);
    return name === undefined ? 1 : 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (entry === undefined) {
    io.err(`ami-builder: unknown command ${JSON.stringify(name)}`);
    io.err('');
    usage(io);
    return 1;
  }
  const { command } = await entry.load();
  if (rest.some((arg) => arg === '-h' || arg === '--help' || arg === '-help')) {
    io.out(command.usage);
    return 0;
  }
  return command.run(rest, io);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
