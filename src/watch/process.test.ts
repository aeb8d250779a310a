// The node a watch runs in: our settings, except where the user already chose one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WATCH_PROCESS, WATCH_PROCESS_ENV, watchProcess } from './process.js';

test('the watch process gets every setting and the marker when the user set none, after the flags node already had', () => {
  const p = watchProcess(['--import', 'tsx'], {});
  assert.deepEqual(p.execArgv, ['--import', 'tsx', ...WATCH_PROCESS.execArgv]);
  assert.deepEqual(p.env, { ...WATCH_PROCESS.env, [WATCH_PROCESS_ENV]: '1' });
});

const scenarios: { name: string; execArgv: string[]; env: Record<string, string>; flags: string[]; env_: Record<string, string> }[] = [
  {
    name: 'a flag given to node wins (either spelling)',
    execArgv: ['--max_old_space_size=4096'],
    env: {},
    flags: ['--max_old_space_size=4096', '--max-semi-space-size=2'],
    env_: { MALLOC_TRIM_THRESHOLD_: '1048576', MALLOC_MMAP_THRESHOLD_: '1048576' },
  },
  {
    name: 'a flag in NODE_OPTIONS wins (node reads it; a flag on the command line would override it)',
    execArgv: [],
    env: { NODE_OPTIONS: '--max-semi-space-size=16 --enable-source-maps' },
    flags: ['--max-old-space-size=512'],
    env_: { MALLOC_TRIM_THRESHOLD_: '1048576', MALLOC_MMAP_THRESHOLD_: '1048576' },
  },
  {
    name: "the user's own malloc settings win",
    execArgv: [],
    env: { MALLOC_TRIM_THRESHOLD_: '0' },
    flags: WATCH_PROCESS.execArgv,
    env_: { MALLOC_MMAP_THRESHOLD_: '1048576' },
  },
];

for (const s of scenarios) {
  test(`the watch process: ${s.name}`, () => {
    const p = watchProcess(s.execArgv, s.env);
    assert.deepEqual(p.execArgv, s.flags);
    assert.deepEqual(p.env, { ...s.env_, [WATCH_PROCESS_ENV]: '1' });
  });
}
