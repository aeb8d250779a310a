import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { FileRefusedError, readRegularFile } from '../../util/fs.js';
import { defineKind } from '../types.js';
import { patternString } from '../../util/pattern-schema.js';
import { DEFAULT_PLACEHOLDERS, isDefaultPlaceholder, placeholderTests } from './placeholders.js';

export { DEFAULT_PLACEHOLDERS } from './placeholders.js';


const options = z
  .strictObject({
    required: z.array(z.string().min(1)).default([]).describe('Variables that must be set to a real value.'),
    example: z
      .string()
      .optional()
      .describe('A dotenv file (e.g. `.env.example`) whose every key is required too; its values are ignored. Relative to the config file.'),
    file: z
      .string()
      .optional()
      .describe(
        'A dotenv file (e.g. `.env`) read for values as well as the process environment; the process environment wins. ' +
          'A missing file is read as empty. Relative to the config file.',
      ),
    placeholders: z
      .array(patternString({ ignoreCase: true }, isDefaultPlaceholder))
      .default([...DEFAULT_PLACEHOLDERS])
      .describe(
        'Regular expressions (case-insensitive, against the trimmed value) that mark a value as a placeholder. ' +
          'Replaces the default list: empty, changeme, TODO, xxx, your-...-here, <...>, ${...}. `[]` turns the check off.',
      ),
  })
  .refine((o) => o.required.length > 0 || o.example !== undefined, 'give `required`, `example` or both: nothing to check');

/**
 * Parses dotenv text with Node's own parser. It reads a key with no `=` as the start of the next
 * line's key (`A\nB=1` gives "A\nB"); such keys are split, each name kept, the value to the last.
 */
function parseDotenv(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(parseEnv(text))) {
    const names = key.split(/\s+/).filter((n) => n !== '' && !n.startsWith('#'));
    names.forEach((name, i) => out.set(name, i === names.length - 1 ? value : out.get(name)));
  }
  return out;
}

/** A dotenv file is a few kilobytes; anything past this is not one. */
const MAX_DOTENV_BYTES = 1024 * 1024;

async function readDotenv(path: string, what: string, optional: boolean): Promise<Map<string, string | undefined> | undefined> {
  let text: string;
  try {
    // Only a regular file is read: a FIFO given as `file:` would otherwise stall the check, and gonogo, for ever.
    text = (await readRegularFile(path, MAX_DOTENV_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof FileRefusedError) throw new Error(`cannot read ${what}: ${err.message}`);
    const code = err instanceof Error && 'code' in err ? err.code : undefined;
    if (optional && code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
  }
  return parseDotenv(text);
}

export default defineKind({
  // Local: not bound to a host, so not counted against the per-host limit.
  host: () => undefined,
  name: 'env',
  description: 'Required environment variables are set and are not placeholders; reports names only, never values.',
  options,
  fields: ['missing', 'placeholders', 'checked'],
  defaultExpect: () => ['len(missing) == 0 && len(placeholders) == 0'],
  async run(o, ctx) {
    ctx.signal.throwIfAborted();
    const examplePath = o.example === undefined ? undefined : resolve(ctx.configDir, o.example);
    const filePath = o.file === undefined ? undefined : resolve(ctx.configDir, o.file);
    const example = examplePath === undefined ? undefined : await readDotenv(examplePath, 'example file', false);
    const fromFile = filePath === undefined ? undefined : await readDotenv(filePath, 'env file', true);
    ctx.signal.throwIfAborted();

    // Node's parser returns keys in no promised order: sort them so `checked` reads the same every run.
    const checked = [...new Set([...o.required, ...[...(example?.keys() ?? [])].sort()])];
    if (checked.length === 0) throw new Error(`no variables to check: ${examplePath ?? 'the example file'} has no keys`);
    // The defaults as code, others on the linear-time engine; a value longer than a pattern reads
    // (64 KiB) is no placeholder: those are short.
    const patterns = placeholderTests(o.placeholders);

    const missing: string[] = [];
    const placeholders: string[] = [];
    const sources: Record<string, 'process' | 'file'> = {};
    const matched: Record<string, string> = {};
    for (const name of checked) {
      const fromProcess = (ctx.processEnv ?? process.env)[name];
      const value = fromProcess ?? fromFile?.get(name);
      if (value === undefined) {
        missing.push(name);
        continue;
      }
      sources[name] = fromProcess === undefined ? 'file' : 'process';
      const trimmed = value.trim();
      const hit = patterns.find((p) => p.test(trimmed));
      if (hit) {
        placeholders.push(name);
        // The pattern names the kind of placeholder; the value itself never leaves this function.
        matched[name] = hit.source;
      }
    }

    return {
      observations: { missing, placeholders, checked },
      evidence: {
        checked,
        missing,
        placeholders: matched,
        sources,
        ...(examplePath !== undefined ? { example: examplePath } : {}),
        ...(filePath !== undefined ? { file: filePath, fileFound: fromFile !== undefined } : {}),
      },
    };
  },
});
