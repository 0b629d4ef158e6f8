/**
 * Building blocks of the guest-side provisioners' `run.sh` (ansible-local, chef-solo, puppet-masterless,
 * salt-masterless): placing staged files and directory trees on the instance, layout intact (one way for all:
 * {@link placementLines}), and running a command as the run-as user with Packer's failure message.
 *
 * chef-solo and salt-masterless get their placements planned by the Send Command task (../../send-command/
 * guest-plan.ts); ansible-local and puppet-masterless place each resolved S3 reference as their script is
 * written ({@link GuestFiles}).
 */
import { ProvisionerFailedError } from '../errors.js';
import { shellQuote } from '../shell.js';
import { assign, FROM_HOME, joinRemote, message, normalizeRemotePath } from './common.js';

/** One staged file and where it goes. */
export interface Placement {
  /** Name in the command folder (`files/3`). */
  staged: string;
  /** Absolute path on the instance. */
  target: string;
}

/** A file or directory tree to place: the directories to create first (parents first), then the files. */
export interface GuestPlacement {
  /** What the progress line names (the S3 URI). */
  label: string;
  directories: string[];
  files: Placement[];
  /** Mode of the files. @default 0644 */
  mode?: '0644' | '0600';
}

const STAGED_NAME = /^[A-Za-z0-9_./-]+$/;

export function checkStagedName(name: string): string {
  if (!STAGED_NAME.test(name) || name.startsWith('/') || name.split('/').includes('..')) {
    throw new Error(`internal: staged file name ${JSON.stringify(name)} is not a plain relative path`);
  }
  return name;
}

/**
 * Lines that place one upload; each failing step ends the script, with `failure` (a Packer message) when given
 * (the installing helper has already said what failed).
 */
export function placementLines(placement: GuestPlacement, failure?: string): string[] {
  const fail = failure === undefined ? 'exit 1' : `{ echo ${shellQuote(failure)} >&2; exit 1; }`;
  const lines: string[] = [];
  for (const dir of placement.directories) {
    lines.push(`ami_builder_ensure_dir ${shellQuote(normalizeRemotePath(dir))} || ${fail}`);
  }
  for (const file of placement.files) {
    lines.push(
      `ami_builder_install ${checkStagedName(file.staged)} ${shellQuote(normalizeRemotePath(file.target))} ${placement.mode ?? '0644'} || ${fail}`,
    );
  }
  return lines;
}

/**
 * Runs `command` as the run-as user as an SSH session would (from the home directory, with sshd's umask 022, so
 * what Chef or Salt create is readable as on a Packer build; run.sh itself keeps 077), and leaves the exit
 * status in `code`.
 */
export function runLines(variable: string, command: string): string[] {
  return [
    assign(variable, `${FROM_HOME}umask 022\n${command}`),
    `ami_builder_run_as "$${variable}"`,
    'code=$?',
  ];
}

/** Packer's `createDir` for Unix guests: `[sudo ]mkdir -p '<dir>'`, run as the user. */
export function createDirLines(variable: string, dir: string, sudo: boolean, failure: string): string[] {
  return [
    message(`Creating directory: ${dir}`),
    ...runLines(variable, `${sudo ? 'sudo ' : ''}mkdir -p ${shellQuote(dir)}`),
    `[ "$code" -eq 0 ] || { echo ${shellQuote(`${failure}: Non-zero exit status.`)} >&2; exit 1; }`,
  ];
}

/** An S3 reference resolved to its objects (the Send Command task's `ResolvedSource`). */
export interface GuestSource {
  uri: string;
  bucket: string;
  layout: 'file' | 'contents' | 'directory';
  objects: { key: string; relative: string }[];
  basename: string;
}

/** A file staged in the command folder, from S3 or generated. */
export interface GuestStagedFile {
  name: string;
  source: { kind: 's3'; bucket: string; key: string } | { kind: 'text'; body: string };
}

/** Collects the staged files of one command and the lines that place them. */
export class GuestFiles {
  readonly staged: GuestStagedFile[] = [];

  constructor(private readonly step: string) {}

  private stage(source: GuestStagedFile['source']): string {
    const name = `files/${this.staged.length}`;
    this.staged.push({ name, source });
    return name;
  }

  /** Lines that install a staged text at `target`. */
  text(body: string, target: string): string[] {
    const name = this.stage({ kind: 'text', body });
    return placementLines({ label: target, directories: [], files: [{ staged: name, target }] });
  }

  /**
   * Lines that place a source that must be a file at `target`.
   *
   * @throws ProvisionerFailedError when the reference is a folder (`playbook_file: … must point to a file`).
   */
  file(source: GuestSource, key: string, target: string): string[] {
    const object = source.objects[0];
    if (source.layout !== 'file' || object === undefined) {
      throw new ProvisionerFailedError(`${this.step}: ${key}: ${source.uri} must point to a file`);
    }
    const name = this.stage({ kind: 's3', bucket: source.bucket, key: object.key });
    return placementLines({ label: source.uri, directories: [], files: [{ staged: name, target }] });
  }

  /**
   * Lines that create `target` and place the objects below a folder into it (Packer's `UploadDir` of `src/`).
   *
   * @throws ProvisionerFailedError when the reference is a single object (`role_paths: … must point to a
   *   directory`), or an object path would leave the folder.
   */
  directory(source: GuestSource, key: string, target: string): string[] {
    if (source.layout === 'file') {
      throw new ProvisionerFailedError(`${this.step}: ${key}: ${source.uri} must point to a directory`);
    }
    const root = normalizeRemotePath(target);
    const dirs = new Set<string>([root]);
    const files: Placement[] = [];
    for (const object of source.objects) {
      const segments = object.relative.split('/');
      if (segments.some((s) => s === '' || s === '.' || s === '..')) {
        throw new ProvisionerFailedError(
          `${this.step} cannot upload ${source.uri}: the object path ${JSON.stringify(object.relative)} below it has an empty, "." or ".." segment`,
        );
      }
      let dir = root;
      for (const segment of segments.slice(0, -1)) {
        dir = joinRemote(dir, segment);
        dirs.add(dir);
      }
      const name = this.stage({ kind: 's3', bucket: source.bucket, key: object.key });
      files.push({ staged: name, target: joinRemote(root, object.relative) });
    }
    const directories = [...dirs].sort(
      (a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b),
    );
    return [
      ...placementLines({ label: source.uri, directories, files }),
      message(`${source.objects.length} file(s) from ${source.uri}`),
    ];
  }
}

/** Takes the next resolved source, in the order the provisioner's references were listed. */
export function sourceQueue(sources: readonly GuestSource[], step: string): () => GuestSource {
  let next = 0;
  return () => {
    const source = sources[next];
    next += 1;
    if (source === undefined) throw new ProvisionerFailedError(`${step}: a file reference was not resolved`);
    return source;
  };
}

/** A value inside the double quotes of a command line: `\`, `"`, `$` and backquotes escaped. */
export function doubleQuoted(value: string): string {
  return value.replace(/[\\"$`]/g, '\\$&');
}
