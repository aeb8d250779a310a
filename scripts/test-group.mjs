// One test process running several test files (scripts/test.mjs): each file is imported inside a
// suite of its own, so its top-level tests and hooks (before, after) belong to that suite exactly as
// they would to the file in a process of its own, and a file that hangs fails alone, on its timeout.
import { describe } from 'node:test';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function runFiles(files) {
  const timeout = Number(process.env.GONOGO_TEST_FILE_TIMEOUT_MS) || undefined;
  for (const file of files) {
    describe(relative(process.cwd(), file), { timeout }, async () => {
      await import(pathToFileURL(file).href);
    });
  }
}
