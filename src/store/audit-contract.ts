// The audit chain's contract, run against every store (sqlite.test.ts, postgres.test.ts): what the
// chain records, that concurrent writers never fork it, and that a row of any kind changed,
// deleted or inserted behind gonogo's back, directly in the database, is found by verifyChain.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeClock } from '../test-support/clock.js';
import { checkRecorded, GENESIS, nextEntry, verifyChain } from './audit.js';
import type { ChainProblem } from './audit.js';
import { decision, itemResult, newRun, T0 } from './contract.js';
import type { Opener } from './contract.js';
import { DEFAULT_LEASE_MS } from './lease.js';
import type { Store } from './types.js';

/** A store location, an opener for it, and a way to run SQL on its database directly, as a forger would. */
export interface TamperableStorage {
  open: Opener;
  exec(sql: string): Promise<void>;
}

/** A SQL string literal. */
export const lit = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** The history every tampering case starts from: a completed run with two results, an aborted run, a sign-off, a waiver. */
async function history(store: Store): Promise<{ done: string; aborted: string; signoff: string; waiver: string }> {
  const done = await store.beginRun(newRun());
  await store.saveResult(done, itemResult('C-01'));
  await store.saveResult(done, itemResult('H-01', 'fail', 'high'));
  await store.endRun(done, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('NO_GO', 50) });
  const aborted = await store.beginRun(newRun());
  await store.saveResult(aborted, itemResult('C-01', 'fail'));
  await store.endRun(aborted, { status: 'aborted', finishedAt: '2026-03-01T10:06:00.000Z' });
  const signoff = await store.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'stage', id: 'security' }, by: 'ana', role: 'security-lead', at: '2026-03-01T10:07:00.000Z' });
  const waiver = await store.addAttestation({ kind: 'waiver', gate: 'web', release: 'r1', itemId: 'H-01', mitigation: 'WAF', owner: 'ben', expires: '2026-03-15T00:00:00.000Z', by: 'ben', role: 'eng-lead', at: '2026-03-01T10:08:00.000Z' });
  return { done, aborted, signoff: signoff.id, waiver: waiver.id };
}

/**
 * Inserts a forged entry as entry 3 of gate `web`, renumbering the rest: its own hash and its link
 * to entry 2 are right, so only the link of the entry after it (and what recorded it) betrays it.
 */
async function insertForgedEntry(s: TamperableStorage): Promise<void> {
  const store = await s.open({ readonly: true, clock: fakeClock(T0) });
  const entries = await store.auditEntries('web', 0, 100);
  await store.close();
  const forged = nextEntry(entries[1], { gate: 'web', kind: 'result', ref: 'result:X:Y', at: '2026-03-01T10:00:00.000Z', data: {}, row: [] });
  await s.exec("UPDATE audit_entries SET seq = seq + 1000 WHERE gate = 'web' AND seq >= 3");
  await s.exec("UPDATE audit_entries SET seq = seq - 999 WHERE gate = 'web' AND seq > 1000");
  await s.exec(`INSERT INTO audit_entries (gate, seq, ref, body, prev, hash) VALUES ('web', 3, ${lit(forged.ref)}, ${lit(forged.body)}, ${lit(forged.prev)}, ${lit(forged.hash)})`);
}

/** Ten entries: begin, 2 results, end; begin, result, end; sign-off; waiver. */
const HISTORY_ENTRIES = 9;

export function auditContract(name: string, storage: () => Promise<TamperableStorage>): void {
  async function withHistory(fn: (s: TamperableStorage, ids: Awaited<ReturnType<typeof history>>) => Promise<void>): Promise<void> {
    const s = await storage();
    const store = await s.open({ clock: fakeClock(T0) });
    let ids: Awaited<ReturnType<typeof history>>;
    try {
      ids = await history(store);
    } finally {
      await store.close();
    }
    await fn(s, ids);
  }

  async function verified(s: TamperableStorage, expectHead?: string) {
    const reader = await s.open({ readonly: true, clock: fakeClock(T0) });
    try {
      return await verifyChain(reader, 'web', { expectHead });
    } finally {
      await reader.close();
    }
  }

  /** What status checks when it reads every row of the gate: checkRecorded over all of them. */
  async function checked(s: TamperableStorage, ids: Awaited<ReturnType<typeof history>>) {
    const reader = await s.open({ readonly: true, clock: fakeClock(T0) });
    try {
      const refs: string[] = [];
      await reader.auditRows('web', (ref) => refs.push(ref));
      return await checkRecorded(reader, 'web', refs, ['run:', 'attestation:', `result:${ids.done}:`, `result:${ids.aborted}:`]);
    } finally {
      await reader.close();
    }
  }

  describe(`Audit chain contract: ${name}`, () => {
    it('records every run begun and ended, result, decision and attestation, linked from the first to the head', () =>
      withHistory(async (s, ids) => {
        const store = await s.open({ readonly: true, clock: fakeClock(T0) });
        try {
          const entries = await store.auditEntries('web', 0, 100);
          assert.deepEqual(entries.map((e) => [e.seq, e.ref]), [
            [1, `run:${ids.done}`], [2, `result:${ids.done}:C-01`], [3, `result:${ids.done}:H-01`], [4, `run:${ids.done}`],
            [5, `run:${ids.aborted}`], [6, `result:${ids.aborted}:C-01`], [7, `run:${ids.aborted}`],
            [8, `attestation:${ids.signoff}`], [9, `attestation:${ids.waiver}`],
          ]);
          assert.equal(entries[0].prev, GENESIS);
          for (let i = 1; i < entries.length; i++) assert.equal(entries[i].prev, entries[i - 1].hash);
          assert.deepEqual(JSON.parse(entries[3].body).data, { run: ids.done, env: 'staging', command: 'check', release: 'r1', status: 'completed', verdict: 'NO_GO' });
          assert.deepEqual(await store.auditHead('web'), { seq: HISTORY_ENTRIES, hash: entries[8].hash });
          assert.deepEqual(await store.auditGates(), ['web']);
          const report = await verifyChain(store, 'web', { expectHead: entries[5].hash });
          assert.deepEqual(report, { gate: 'web', entries: HISTORY_ENTRIES, head: entries[8].hash, intact: true });
          assert.equal((await verifyChain(store, 'no-such-gate')).entries, 0);
        } finally {
          await store.close();
        }
      }));

    it('records a run its lease ended, and keeps each gate\'s chain apart', async () => {
      const s = await storage();
      const clock = fakeClock(T0);
      const store = await s.open({ clock });
      const silent = await store.beginRun(newRun({ gate: 'api' }));
      await store.beginRun(newRun({ gate: 'web' }));
      await store.close();
      await clock.advance(DEFAULT_LEASE_MS + 1);
      const next = await s.open({ clock });
      try {
        const api = await next.auditEntries('api', 0, 10);
        assert.deepEqual(api.map((e) => [e.seq, e.ref, JSON.parse(e.body).data.status]), [[1, `run:${silent}`, 'running'], [2, `run:${silent}`, 'aborted']]);
        assert.equal((await next.auditEntries('web', 0, 10)).length, 2);
        for (const gate of ['api', 'web']) assert.equal((await verifyChain(next, gate)).intact, true);
      } finally {
        await next.close();
      }
    });

    it('never forks under concurrent writers: two stores append to one gate at once', async () => {
      const s = await storage();
      const [a, b] = [await s.open({ clock: fakeClock(T0) }), await s.open({ clock: fakeClock(T0) })];
      try {
        const [ra, rb] = await Promise.all([a.beginRun(newRun()), b.beginRun(newRun())]);
        await Promise.all([
          ...Array.from({ length: 10 }, (_, i) => a.saveResult(ra, itemResult(`A-${i}`))),
          ...Array.from({ length: 10 }, (_, i) => b.saveResult(rb, itemResult(`B-${i}`))),
          ...Array.from({ length: 5 }, (_, i) => a.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'item', id: `M-${i}` }, by: 'ana', role: 'qa', at: '2026-03-01T10:00:00.000Z' })),
          ...Array.from({ length: 5 }, (_, i) => b.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'item', id: `N-${i}` }, by: 'ben', role: 'qa', at: '2026-03-01T10:00:00.000Z' })),
        ]);
        const report = await verifyChain(a, 'web');
        assert.deepEqual([report.intact, report.entries], [true, 2 + 20 + 10]);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('changes the change token with every commit, by this store, another one or by hand, and keeps it while nothing is committed', async () => {
      const s = await storage();
      const [writer, other] = [await s.open({ clock: fakeClock(T0) }), await s.open({ clock: fakeClock(T0) })];
      const reader = await s.open({ readonly: true, clock: fakeClock(T0) });
      const stores = { writer, other, reader };
      const tokens = async (): Promise<Record<string, string>> => ({ writer: await writer.changeToken(), other: await other.changeToken(), reader: await reader.changeToken() });
      /** Each store's token changed since `before`. */
      const changed = async (before: Record<string, string>, what: string): Promise<Record<string, string>> => {
        const now = await tokens();
        for (const name of Object.keys(stores)) assert.notEqual(now[name], before[name], `${what}: the ${name}'s token`);
        return now;
      };
      try {
        const run = await writer.beginRun(newRun());
        await writer.saveResult(run, itemResult('C-01'));
        // Reads commit nothing. (A database server shared with others may commit meanwhile: a few tries.)
        let kept = false;
        for (let i = 0; i < 5 && !kept; i++) {
          const before = await tokens();
          await Promise.all(Object.values(stores).map(async (st) => [await st.listRuns({ gate: 'web' }), await st.auditHead('web'), await st.latestResults({ gate: 'web', release: 'r1', env: 'staging' })]));
          kept = JSON.stringify(await tokens()) === JSON.stringify(before);
        }
        assert.ok(kept, 'reads alone changed a token');

        let now = await tokens();
        await writer.endRun(run, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision() });
        now = await changed(now, 'a run ended by this store');
        await other.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'rm', at: '2026-03-01T10:07:00.000Z' });
        now = await changed(now, 'a sign-off by another store');
        await s.exec(`UPDATE results SET status = 'fail' WHERE run_id = ${lit(run)} AND item_id = 'C-01'`);
        await changed(now, 'a result changed by hand');
      } finally {
        await Promise.all(Object.values(stores).map((st) => st.close()));
      }
    });

    // Each forgery is made directly in the database; verify names the first thing it changed.
    const forgeries: Array<{ name: string; sql: (ids: Awaited<ReturnType<typeof history>>) => string[]; kind: ChainProblem['kind']; message: RegExp }> = [
      { name: 'a verdict set on an aborted run', sql: (ids) => [`UPDATE runs SET verdict = 'GO', decision = '{}', status = 'completed' WHERE id = ${lit(ids.aborted)}`], kind: 'row-changed', message: /run .* was changed after entry 7/ },
      { name: 'a run deleted with its results', sql: (ids) => [`DELETE FROM results WHERE run_id = ${lit(ids.aborted)}`, `DELETE FROM runs WHERE id = ${lit(ids.aborted)}`], kind: 'row-deleted', message: /result of C-01 in run .* recorded by entry 6 was deleted/ },
      { name: 'a run inserted', sql: () => ["INSERT INTO runs (id, gate, env, command, config_hash, status, started_at, release_id, verdict) VALUES ('FORGED', 'web', 'staging', 'check', 'x', 'completed', '2026-03-01T09:00:00.000Z', 'r1', 'GO')"], kind: 'row-inserted', message: /run FORGED is in the store but not in the audit log/ },
      { name: 'a result changed', sql: (ids) => [`UPDATE results SET status = 'pass' WHERE run_id = ${lit(ids.done)} AND item_id = 'H-01'`], kind: 'row-changed', message: /result of H-01 in run .* was changed after entry 3/ },
      { name: 'a result deleted', sql: (ids) => [`DELETE FROM results WHERE run_id = ${lit(ids.done)} AND item_id = 'H-01'`], kind: 'row-deleted', message: /result of H-01 .* entry 3 was deleted/ },
      { name: 'a result inserted', sql: (ids) => [`INSERT INTO results (run_id, item_id, seq, tier, status, message, duration_ms, attempts) VALUES (${lit(ids.done)}, 'H-02', 99, 'high', 'pass', 'ok', 1, '[]')`], kind: 'row-inserted', message: /result of H-02 .* not in the audit log/ },
      { name: 'a sign-off changed', sql: (ids) => [`UPDATE attestations SET body = REPLACE(body, 'security-lead', 'release-manager') WHERE id = ${lit(ids.signoff)}`], kind: 'row-changed', message: /attestation .* was changed after entry 8/ },
      { name: 'a waiver deleted', sql: (ids) => [`DELETE FROM attestations WHERE id = ${lit(ids.waiver)}`], kind: 'row-deleted', message: /attestation .* recorded by entry 9 was deleted/ },
      { name: 'two sign-offs inserted', sql: (ids) => ['FORGED-1', 'FORGED-2'].map((id) => `INSERT INTO attestations (id, gate, kind, release_id, at, body) SELECT ${lit(id)}, gate, kind, release_id, at, body FROM attestations WHERE id = ${lit(ids.signoff)}`), kind: 'row-inserted', message: /attestation FORGED-1 is in the store but not in the audit log/ },
      { name: 'an entry changed', sql: () => ["UPDATE audit_entries SET body = REPLACE(body, 'NO_GO', 'GO') WHERE gate = 'web' AND seq = 4"], kind: 'entry-changed', message: /entry 4 \(run .*\) was changed: its hash does not match/ },
      { name: 'an entry deleted', sql: () => ["DELETE FROM audit_entries WHERE gate = 'web' AND seq = 5"], kind: 'entry-deleted', message: /entry 5 was deleted/ },
    ];
    for (const f of forgeries) {
      it(`finds ${f.name}`, () =>
        withHistory(async (s, ids) => {
          for (const sql of f.sql(ids)) await s.exec(sql);
          const report = await verified(s);
          assert.equal(report.intact, false, `${f.name} went unnoticed`);
          assert.equal(report.problem?.kind, f.kind, report.problem?.message);
          assert.match(report.problem?.message ?? '', f.message);
          // status's check, over the rows it reads, finds it too (naming perhaps another symptom).
          const quick = await checked(s, ids);
          assert.equal(quick.intact, false, `${f.name} went unnoticed by checkRecorded`);
        }));
    }

    it('verifies rows whose values a store may render otherwise than JSON.stringify, and still finds one changed', async () => {
      const s = await storage();
      const store = await s.open({ clock: fakeClock(T0) });
      let run: string;
      try {
        run = await store.beginRun(newRun());
        const awkward = ['tab\tnew\nline "quoted" \\ back', 'bell \u0007 nul-ish \u001f del \u007f', 'é ü 中文 \u2028 \u2029 😀'];
        for (const [i, message] of awkward.entries()) {
          await store.saveResult(run, { ...itemResult(`W-0${i}`), message, durationMs: [12, 0.1 + 0.2, 1e21][i], evidence: { message } });
        }
        await store.endRun(run, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('GO', 100) });
      } finally {
        await store.close();
      }
      assert.deepEqual(await verified(s).then((r) => [r.intact, r.problem?.message]), [true, undefined]);
      await s.exec(`UPDATE results SET duration_ms = 13 WHERE run_id = ${lit(run)} AND item_id = 'W-00'`);
      const report = await verified(s);
      assert.equal(report.problem?.kind, 'row-changed');
      assert.match(report.problem?.message ?? '', /result of W-00 .* was changed after entry 2/);
    });

    it('checkRecorded finds an intact history intact, and a forged row the way verify names it', () =>
      withHistory(async (s, ids) => {
        const intact = await checked(s, ids);
        assert.deepEqual([intact.intact, intact.entries], [true, HISTORY_ENTRIES]);
        await s.exec(`UPDATE runs SET verdict = 'GO', decision = '{}', status = 'completed' WHERE id = ${lit(ids.aborted)}`);
        const report = await checked(s, ids);
        assert.equal(report.problem?.kind, 'row-changed');
        assert.match(report.problem?.message ?? '', /run .* was changed after entry 7/);
      }));

    it('checkRecorded finds an entry inserted before the rows it reads', () =>
      withHistory(async (s, ids) => {
        await insertForgedEntry(s);
        assert.equal((await checked(s, ids)).intact, false);
      }));

    it('finds deleted rows of a kind from a ref on when asked to, and all of them otherwise', () =>
      withHistory(async (s, ids) => {
        const [first, second] = [ids.done, ids.aborted].sort();
        await s.exec(`DELETE FROM results WHERE run_id = ${lit(first)}`);
        await s.exec(`DELETE FROM runs WHERE id = ${lit(first)}`);
        const reader = await s.open({ readonly: true, clock: fakeClock(T0) });
        try {
          assert.deepEqual(await reader.auditOrphans('web', 'run:'), [`run:${first}`]);
          assert.deepEqual(await reader.auditOrphans('web', 'run:', `run:${first}`), [`run:${first}`]);
          assert.deepEqual(await reader.auditOrphans('web', 'run:', `run:${second}`), []);
          await assert.rejects(reader.auditOrphans('web', 'run:', `attestation:${ids.signoff}`), /no table has refs starting "run:" from "attestation:/);
        } finally {
          await reader.close();
        }
      }));

    it('finds an entry inserted, even one whose own hash and link are right', () =>
      withHistory(async (s) => {
        await insertForgedEntry(s);
        const report = await verified(s);
        assert.equal(report.problem?.kind, 'entry-inserted');
        assert.match(report.problem?.message ?? '', /entry 4 is out of place: an entry was inserted before it \(it was entry 3\)/);
      }));

    it('finds a removed tail only against a pinned head, once the forger also moved the head back', () =>
      withHistory(async (s, ids) => {
        const pinned = (await verified(s)).head;
        const store = await s.open({ readonly: true, clock: fakeClock(T0) });
        const [eighth] = await store.auditEntries('web', 7, 1);
        await store.close();
        // Careless: the head row still names entry 9.
        await s.exec("DELETE FROM audit_entries WHERE gate = 'web' AND seq = 9");
        await s.exec(`DELETE FROM attestations WHERE id = ${lit(ids.waiver)}`);
        assert.equal((await verified(s)).problem?.kind, 'truncated');
        // Careful: the head moved back too. The chain alone is intact; the pinned head is not in it.
        await s.exec(`UPDATE audit_heads SET seq = 8, hash = ${lit(eighth.hash)} WHERE gate = 'web'`);
        assert.deepEqual([(await verified(s)).intact, (await verified(s)).entries], [true, 8]);
        const report = await verified(s, pinned);
        assert.equal(report.problem?.kind, 'truncated');
        assert.match(report.problem?.message ?? '', new RegExp(`the expected head ${pinned} is not in the chain`));
      }));
  });
}
