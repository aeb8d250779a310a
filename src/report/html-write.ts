// Writing the HTML page set to a folder so that nobody ever opens half of it: every page is written
// in a temporary folder first; a new folder is then renamed into place whole (one atomic step), and
// into an existing folder each page is renamed over its old version (each page atomic, nothing else
// in the folder touched). A failure leaves the folder as it was and removes the temporary one.
import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** A file of the set: its name in the folder and its text. */
export interface SetFile {
  file: string;
  html: string;
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** What is at `path`: a folder, something else, or nothing. */
export async function pathKind(path: string): Promise<'folder' | 'other' | 'none'> {
  try {
    return (await stat(path)).isDirectory() ? 'folder' : 'other';
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'none';
    throw err;
  }
}

async function writeAll(dir: string, files: readonly SetFile[]): Promise<void> {
  for (const f of files) await writeFile(join(dir, f.file), f.html, { mode: 0o644 });
}

/**
 * Writes `files` into the folder `dir` (created with its parents when missing) and returns the
 * paths written. Every file name must be a plain name (no folder part).
 */
export async function writePageSet(dir: string, files: readonly SetFile[]): Promise<string[]> {
  for (const f of files) if (basename(f.file) !== f.file || f.file.startsWith('.')) throw new Error(`internal: not a plain file name: ${JSON.stringify(f.file)}`);
  const target = resolve(dir);
  const written = files.map((f) => join(target, f.file));
  if ((await pathKind(target)) === 'none') {
    await mkdir(dirname(target), { recursive: true });
    const tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`));
    try {
      await writeAll(tmp, files);
      // mkdtemp makes the folder private (0700); the set is meant to be read and attached.
      await chmod(tmp, 0o755);
      await rename(tmp, target);
      return written;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      // Someone made the folder meanwhile: write into it as into any existing folder.
      if (errorCode(err) !== 'ENOTEMPTY' && errorCode(err) !== 'EEXIST') throw err;
    }
  }
  const tmp = await mkdtemp(join(target, '.gonogo-report-'));
  try {
    await writeAll(tmp, files);
    for (const f of files) await rename(join(tmp, f.file), join(target, f.file));
    return written;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
