// `npm run demo`: starts the reference app, runs `gonogo validate staging` against it with the
// example config (SQLite store beside it), prints the decision and the status page, stops the app.
// RECIPES_DEFECTS=csrf,ssrf npm run demo shows the same gate catching defects.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startApp, parseDefects } from '../examples/recipes-app/src/app.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = join(root, 'examples', 'recipes-app', 'gonogo.yaml');
const defects = parseDefects(process.env.RECIPES_DEFECTS ?? '');
// Login limit 20 a minute: room for the probes' logins before SEC-006's burst (40) must hit it.
const app = await startApp({ defects, loginLimit: 20 });
console.log(`recipes-app listening on ${app.url} (defects: ${defects.join(', ') || 'none'})\n`);

// Asynchronous: the app runs in this process and must keep answering while gonogo probes it.
const gonogo = async (...args: string[]): Promise<number> => {
  console.log(`$ gonogo ${args.join(' ')}`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'bin.ts'), '--config', config, ...args], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, GONOGO_ALICE_PASSWORD: 'alice-password', GONOGO_BOB_PASSWORD: 'bob-password', GONOGO_CAROL_PASSWORD: 'carol-password', GONOGO_ADMIN_PASSWORD: 'admin-password' },
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  console.log('');
  return code ?? 1;
};

let code = 1;
try {
  code = await gonogo('validate', 'staging', '--url', app.url, '--keep-going');
  await gonogo('status');
} finally {
  await app.close();
}
console.log(`gonogo validate exited ${code} (0 GO, 3 GO WITH CONDITIONS, 1 NO-GO)`);
// The demo succeeds when the gate ran and decided; NO-GO on a defective app is the point, not a failure.
process.exit(code === 0 || code === 1 || code === 3 ? 0 : code);
