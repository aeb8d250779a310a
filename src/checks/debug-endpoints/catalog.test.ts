import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOG, PAGE_MARKERS, all, dotenv } from './catalog.js';

// Near-misses for the catalog's matchers, 256 KB each (the probe client's body cap). The matchers
// run on the linear-time engine over the first 64 KiB, so these assert results, not timings.
const fill = (unit: string): string => unit.repeat(Math.ceil(256 * 1024 / unit.length)).slice(0, 256 * 1024);
const HOSTILE = [
  fill('<script '),
  fill('<meta '),
  fill('PHP Version 8.1 '),
  fill('"password": "'),
  fill('aws_access_key_id'),
  fill('A_B'),
  `${' '.repeat(200_000)}x`,
  fill('-- MySQL'),
  fill('"a_password_b'),
];

test('every catalog matcher and page marker answers on 256 KB hostile bodies', () => {
  for (const body of HOSTILE) {
    for (const e of CATALOG) {
      const evidence = e.match({ body, contentType: 'text/plain' });
      assert.ok(evidence === undefined || evidence.length <= 80, `${e.path}: ${evidence}`);
    }
    for (const m of PAGE_MARKERS) assert.equal(m.pattern.test(body), false, m.what);
  }
});

test('catalog matchers still recognise their exposures', () => {
  const seen = (path: string, body: string) => CATALOG.find((e) => e.path === path)?.match({ body, contentType: 'text/plain' });
  assert.equal(seen('/.git/config', '[core]\n\trepositoryformatversion = 0\n'), '[core]');
  assert.equal(seen('/.aws/credentials', '[default]\naws_access_key_id = AKIA...\n'), 'aws_access_key_id =');
  assert.equal(seen('/.git/config', '<html>[core] repositoryformatversion</html>'), undefined);
  assert.equal(seen('/config.json', '{"db": {"password": "hunter22"}}'), '"password": "hunter22"');
  assert.equal(seen('/backup.sql', 'junk\n-- PostgreSQL database dump\n'), '-- PostgreSQL database dump');
  assert.equal(seen('/.DS_Store', '\0\0\0\x01Bud1rest'), '\0\0\0\x01Bud1');
  assert.equal(dotenv({ body: 'A=1\nexport B=2\n# note\n', contentType: '' }), 'keys: A, B');
  assert.equal(all(/x/i, /y/)({ body: 'X y', contentType: '' }), 'X');
  assert.equal(all(/x/i, /y/)({ body: 'X Y', contentType: '' }), undefined);
});

test('a leak past the first 64 KiB of a body is not read', () => {
  const body = `${' '.repeat(64 * 1024)}[core] repositoryformatversion`;
  assert.equal(CATALOG.find((e) => e.path === '/.git/config')?.match({ body, contentType: '' }), undefined);
});
