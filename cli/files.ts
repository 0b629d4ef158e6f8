/**
 * Local file checks for the CLI, as Packer makes them with `os.Stat`: the error text is Go's
 * (`stat x509.cert: no such file or directory`), so messages read like Packer's
 * (`x509_cert_path points to bad file: stat x509.cert: no such file or directory`).
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

const GO_ERRNO: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EINVAL: 'invalid argument',
};

/**
 * Stats `path` (relative paths against `cwd`). Returns Go's `stat <path>: <reason>` when that fails, or
 * undefined when the file exists.
 */
export function statError(path: string, cwd: string): string | undefined {
  try {
    const full = isAbsolute(path) ? path : resolve(cwd, path);
    // `resolve` drops a trailing `/.`, which makes the stat fail for anything but a directory.
    statSync(path.endsWith('/.') && !full.endsWith('/.') ? `${full}/.` : full);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const reason = GO_ERRNO[code] ?? (error instanceof Error ? error.message : String(error));
    return `stat ${path}: ${reason}`;
  }
}

/** A `checkLocalFile` for template validation, bound to a working directory. */
export function localFileChecker(cwd: string): ((path: string) => string | undefined) & {
  isDirectory: (path: string) => boolean | undefined;
} {
  const check = (path: string) => statError(path, cwd);
  // Guest provisioner keys must name a file or a directory: Packer tells them apart at validation too.
  return Object.assign(check, {
    isDirectory: (path: string) => {
      try {
        return statSync(isAbsolute(path) ? path : resolve(cwd, path)).isDirectory();
      } catch {
        return undefined;
      }
    },
  });
}
