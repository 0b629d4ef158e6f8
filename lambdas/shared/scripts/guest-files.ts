/**
 * Placing the files of a guest-side provisioner (`ansible-local`, `puppet-masterless`) on the instance: each of
 * its S3 references, resolved by the Send Command task to a file or the objects below a folder, becomes staged
 * files that `run.sh` installs at their place under the staging directory, directories first, layout intact.
 */
import { ProvisionerFailedError } from '../errors.js';
import { shellQuote } from '../shell.js';
import { joinRemote, message, normalizeRemotePath } from './common.js';

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
    return [`ami_builder_install ${name} ${shellQuote(normalizeRemotePath(target))} 0644 || exit 1`];
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
    return [`ami_builder_install ${name} ${shellQuote(normalizeRemotePath(target))} 0644 || exit 1`];
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
    const files: string[] = [];
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
      files.push(
        `ami_builder_install ${name} ${shellQuote(joinRemote(root, object.relative))} 0644 || exit 1`,
      );
    }
    const ordered = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
    return [
      ...ordered.map((d) => `ami_builder_ensure_dir ${shellQuote(d)} || exit 1`),
      ...files,
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
