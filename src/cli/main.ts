import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT, UsageError } from './exit.js';
import { Output, OutputError, processIo } from './io.js';
import type { CliIo } from './io.js';
import type { Cli } from './commands.js';
import type { ListOptions } from './list.js';
import type { ReplayCliOptions } from './replay.js';
import type { ServeCliOptions } from './serve.js';

const HELP_FOOTER = `
Exit codes:
  0    GO (or GO WITH CONDITIONS with --accept-conditions); other commands: success
  1    NO-GO
  2    config or usage error (every config problem is printed as file:line:column), or nothing
       could be decided or written: the store failed (no decision is made without a record),
       the output could not be written (a full disk); one line, never a stack trace.
       A reader that closes the pipe early (gonogo status | head -1) keeps the command's own code.
  3    GO WITH CONDITIONS
  70   internal error: a bug in gonogo, one line (GONOGO_DEBUG=1 prints the stack trace)
  130  interrupted (Ctrl-C): the run is stored as aborted, never GO

Environment:
  GONOGO_STORE   where runs, sign-offs, waivers and the audit log are kept: a SQLite file (default
                 .gonogo/gonogo.db beside the config) or postgres://user@host:5432/db for a team
  CI             plain progress lines instead of the live task list
  GITHUB_STEP_SUMMARY  when set, check, validate and report --format markdown append Markdown to it
  GONOGO_CACHE_DIR     where validated configs are cached (default $XDG_CACHE_HOME/gonogo or
                       ~/.cache/gonogo); delete it to clear the cache
  GONOGO_NO_CACHE=1    neither read nor write that cache (as --no-cache)
  GONOGO_WATCH_PROCESS=1  watch runs in the process you started, without restarting itself in a
                       node set up to keep a long watch's memory flat

Config reference: README.md and the JSON Schema (gonogo schema).`;

function version(): string {
  const pkg: { version: string } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return pkg.version;
}

const formatOption = (formats: string[]): Option => new Option('--format <format>', 'output format').choices(formats).default('text');

/**
 * Parses argv, runs one command and returns its exit code. Only cli/ prints or exits. `io` is the
 * process's streams and environment unless a test passes its own.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const cli: Cli = { io, out: new Output(io.stdout, 'stdout'), err: new Output(io.stderr, 'stderr') };
  // A reader that closes the pipe early raises EPIPE on the stream, not only in the write callback.
  const onOutError = (err: unknown): void => cli.out.fail(err);
  const onErrError = (err: unknown): void => cli.err.fail(err);
  if (io.stdout === process.stdout) process.stdout.on('error', onOutError);
  if (io.stderr === process.stderr) process.stderr.on('error', onErrError);
  try {
    const code = await dispatch(argv, cli);
    await cli.err.check().catch(() => undefined);
    try {
      await cli.out.check();
    } catch (err) {
      await cli.err.write(`gonogo: ${err instanceof Error ? err.message : String(err)}\n`);
      return EXIT.USAGE;
    }
    return code;
  } finally {
    process.stdout.off('error', onOutError);
    process.stderr.off('error', onErrError);
  }
}

async function dispatch(argv: string[], cli: Cli): Promise<number> {
  let code: number = EXIT.GO;
  const program = new Command('gonogo')
    .description('A production go/no-go gate as code: runs the checklist, decides GO / GO WITH CONDITIONS / NO-GO by stated rules, keeps the record.')
    .version(version(), '-V, --version')
    .option('-c, --config <file>', 'config file', 'gonogo.yaml')
    .option('--store <location>', 'store: a SQLite file path (default .gonogo/gonogo.db beside the config) or postgres://user@host:5432/db (env GONOGO_STORE)')
    .option('--max-config-bytes <n>', 'refuse a config file larger than this (default 5 MB)')
    .option('--release <id>', 'the release being decided (default: the git commit of the config\'s tree, short SHA with +dirty when tracked files changed; outside git, config- and the config hash)')
    .option('--no-cache', 'neither read nor write the validated-config cache (env GONOGO_NO_CACHE=1): parse the config every time')
    .addHelpText('after', HELP_FOOTER)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void cli.out.write(s), writeErr: (s) => void cli.err.write(s) })
    .showHelpAfterError('(run gonogo --help for usage)');

  const globals = (): { config: string; store?: string; maxConfigBytes?: string; release?: string; cache?: boolean } => program.opts();

  program
    .command('init')
    .description("write gonogo.yaml: a generic web-service checklist (25 critical, 18 high, 15 recommended items), stages and rules; --template seed writes the seed's own")
    .addOption(new Option('--template <name>', 'which checklist').choices(['web-service', 'seed']).default('web-service'))
    .option('--force', 'overwrite an existing file')
    .action(async (o: { force?: boolean; template: string }) => {
      const { cmdInit } = await import('./init.js');
      code = await cmdInit(cli, globals().config, { force: Boolean(o.force), template: o.template });
    });

  program
    .command('list')
    .description('print what a run would do, item by item (kind, target, what it checks); sends nothing')
    .option('-e, --env <name>', 'environment (default: the first in the config)')
    .option('--url <url>', "replace the environment's url")
    .option('--tier <tiers>', 'only items of these tiers (comma list)')
    .option('--only <ids>', 'only these item ids (comma list)')
    .addOption(formatOption(['text', 'json']))
    .action(async (o: ListOptions) => {
      const { cmdList } = await import('./list.js');
      code = await cmdList(cli, globals(), o);
    });

  const runOptions = (cmd: Command): Command =>
    cmd
      .option('-e, --env <name>', 'environment to run against (default: the first in the config)')
      .option('--url <url>', "replace the environment's url for this run (e.g. a preview deployment)")
      .option('--tier <tiers>', 'only items of these tiers (comma list: critical,high,recommended)')
      .option('--only <ids>', 'only these item ids (comma list)')
      .addOption(formatOption(['text', 'json', 'junit', 'markdown', 'sarif']))
      .option('-o, --out <file>', 'write the report to a file instead of stdout')
      .option('--accept-conditions', 'exit 0 on GO WITH CONDITIONS instead of 3')
      .option('-q, --quiet', 'no live progress');

  runOptions(program.command('check').description('run every automated check concurrently and decide')).action(async (o: RunCliOptions) => {
    const { cmdRun } = await import('./commands.js');
    code = await cmdRun(cli, { ...globals(), ...o });
  });

  runOptions(
    program
      .command('validate')
      .argument('<stage-set>', 'stage set from the config, e.g. staging')
      .description('run a stage set in order, timing each stage against its budget; stops at a critical failure')
      .option('--keep-going', 'run every stage even after a critical failure'),
  ).action(async (stageSet: string, o: RunCliOptions) => {
    const { cmdRun } = await import('./commands.js');
    code = await cmdRun(cli, { ...globals(), ...o, stageSet });
  });

  program
    .command('signoff')
    .description('record a sign-off for the release: a manual item, a stage (binds to its last run) or the decision (binds to the newest completed run); refused, with the rule, unless roles:, people: and the stage\'s signoff: allow it')
    .option('--item <id>', 'attest a manual item (counts for the release until rules.signoffTtl)')
    .option('--stage <id>', 'sign off a stage')
    .option('--decision', 'sign off the decision')
    .option('--run <id>', 'the run signed (must be the newest completed run of the release; default: that run)')
    .option('-e, --env <name>', 'the environment whose state is signed (default: the first in the config)')
    .requiredOption('--as <name>', 'who signs')
    .requiredOption('--role <role>', 'in which role (its permissions in roles:, held by the person in people:)')
    .option('--note <text>', 'a note kept with the sign-off')
    .action(async (o: { item?: string; stage?: string; decision?: boolean; as: string; role: string; note?: string; run?: string; env?: string }) => {
      const { cmdSignoff } = await import('./commands.js');
      code = await cmdSignoff(cli, globals(), o);
    });

  program
    .command('waive')
    .argument('<id>', 'item id')
    .description('accept a failed item with a mitigation, an owner and an expiry (counts toward GO WITH CONDITIONS)')
    .requiredOption('--mitigation <text>', 'what limits the risk meanwhile')
    .requiredOption('--owner <name>', 'who owns the follow-up')
    .requiredOption('--expires <date>', 'ISO date or time after which the waiver no longer counts')
    .requiredOption('--as <name>', 'who records the waiver')
    .requiredOption('--role <role>', 'in which role (needs the waive permission)')
    .action(async (id: string, o: { mitigation: string; owner: string; expires: string; as: string; role: string }) => {
      const { cmdWaive } = await import('./commands.js');
      code = await cmdWaive(cli, globals(), id, o);
    });

  program
    .command('revoke')
    .argument('<attestation-id>', 'the id `gonogo status` lists beside each attestation')
    .description('withdraw a sign-off or a waiver: appends a revocation, deletes nothing (the revoke permission, or your own attestation)')
    .requiredOption('--as <name>', 'who revokes')
    .requiredOption('--role <role>', 'in which role')
    .requiredOption('--reason <text>', 'why it no longer holds')
    .action(async (id: string, o: { as: string; role: string; reason: string }) => {
      const { cmdRevoke } = await import('./commands.js');
      code = await cmdRevoke(cli, globals(), id, o);
    });

  program
    .command('status')
    .description("the release's state: the latest result of every item under the current config, its decision, attestations and what counts; exits with the decision's code (0 GO, 3 GO WITH CONDITIONS, 1 NO-GO)")
    .option('-e, --env <name>', 'environment (default: the first in the config)')
    .option('--accept-conditions', 'exit 0 on GO WITH CONDITIONS instead of 3')
    .addOption(formatOption(['text', 'json']))
    .action(async (o: { format: string; env?: string; acceptConditions?: boolean }) => {
      const { cmdStatus } = await import('./commands.js');
      code = await cmdStatus(cli, globals(), o);
    });

  program
    .command('history')
    .description('list runs, newest first, with their release; partial runs (--only, --tier) are marked (with --release: that release only)')
    .option('-n, --limit <n>', 'how many', '20')
    .addOption(formatOption(['text', 'json']))
    .action(async (o: { limit: string; format: string }) => {
      const { cmdHistory } = await import('./commands.js');
      code = await cmdHistory(cli, globals(), Number(o.limit), o.format);
    });

  program
    .command('report')
    .description("render the go/no-go checklist with the release's state and the readiness assessment; --format html -o DIR writes the seed's five documents (checklist, staging and production validation records, readiness assessment, quick reference) and an index as a folder of static pages")
    .option('-e, --env <name>', 'environment (default: the first in the config)')
    .addOption(formatOption(['markdown', 'json', 'html']).default('markdown'))
    .option('-o, --out <file>', 'write to a file instead of stdout (html: the folder the pages are written to, required)')
    .action(async (o: { format: string; out?: string; env?: string }) => {
      const { cmdReport } = await import('./commands.js');
      code = await cmdReport(cli, globals(), o);
    });

  const audit = program.command('audit').description('the tamper-evident audit log: every run, result, decision and attestation, hash-chained per gate');
  audit
    .command('verify')
    .description('walk the chain and compare it with the record: exit 0 "N entries, chain intact, head HASH", or 1 naming the first entry changed, deleted or inserted')
    .option('--gate <name>', "the gate (default: the config's gate, or every gate in the store)")
    .option('--expect-head <hash>', 'a head pinned earlier (gonogo audit head): also finds a removed tail')
    .action(async (o: { gate?: string; expectHead?: string }) => {
      const { cmdAuditVerify } = await import('./audit.js');
      code = await cmdAuditVerify(cli, globals(), o);
    });
  audit
    .command('head')
    .description('print the hash of the last entry, to pin where the store\'s owner cannot rewrite it (a CI log, a git tag)')
    .option('--gate <name>', "the gate (default: the config's gate, or every gate in the store)")
    .action(async (o: { gate?: string }) => {
      const { cmdAuditHead } = await import('./audit.js');
      code = await cmdAuditHead(cli, globals(), o);
    });
  audit
    .command('export')
    .description('write the entries as JSON lines')
    .option('--gate <name>', "the gate (default: the config's gate, or every gate in the store)")
    .option('--since <entry|date>', 'from this entry number, or from entries made at or after this ISO date')
    .action(async (o: { gate?: string; since?: string }) => {
      const { cmdAuditExport } = await import('./audit.js');
      code = await cmdAuditExport(cli, globals(), o);
    });
  program
    .command('store')
    .description("move the record between stores")
    .command('copy')
    .description('copy a SQLite store\'s whole history, audit log included, into an empty PostgreSQL database, and verify it there')
    .requiredOption('--from <file>', 'the SQLite store file')
    .requiredOption('--to <url>', 'postgres://user@host:5432/db')
    .action(async (o: { from: string; to: string }) => {
      const { cmdStoreCopy } = await import('./audit.js');
      code = await cmdStoreCopy(cli, o);
    });

  program
    .command('watch')
    .argument('<stage-set>', 'the stage set watched after the deploy, e.g. production')
    .description("watch a deployed release: the stage set's windows in turn (each stage's window: and every:), triggers judged at every evaluation, an immediate trigger rolls back once, a conditional one waits for decide-rollback; resumes where it stopped. Exit 0 every window passed, 1 rolled back or a window failed, 130 interrupted")
    .option('-e, --env <name>', 'environment watched (default: the one named like the stage set, else the first)')
    .option('--previous <release>', 'the release a rollback returns to ($GONOGO_PREVIOUS)')
    .option('-q, --quiet', 'no line per evaluation')
    .action(async (stageSet: string, o: { env?: string; previous?: string; quiet?: boolean }) => {
      const { cmdWatch } = await import('./watch.js');
      code = await cmdWatch(cli, globals(), stageSet, o);
    });

  program
    .command('rollback')
    .description('roll the release back by hand with watch.rollback: the command, the post-rollback validation, the restore; once per release and environment (needs the rollback permission)')
    .option('-e, --env <name>', 'environment (default: production, else the first)')
    .option('--previous <release>', 'the release to return to ($GONOGO_PREVIOUS)')
    .option('--dry-run', 'print the steps without running or recording anything')
    .option('--reason <text>', 'why, for the record')
    .requiredOption('--as <name>', 'who rolls back')
    .requiredOption('--role <role>', 'in which role (needs the rollback permission)')
    .action(async (o: { env?: string; previous?: string; dryRun?: boolean; as: string; role: string; reason?: string }) => {
      const { cmdRollback } = await import('./watch.js');
      code = await cmdRollback(cli, globals(), o);
    });

  program
    .command('decide-rollback')
    .description('answer a conditional trigger of a running watch: roll back, or continue watching (needs the rollback permission)')
    .requiredOption('--watch <id>', 'the watch (its id is printed when it starts)')
    .option('--rollback', 'roll back now')
    .option('--continue', 'keep watching')
    .requiredOption('--as <name>', 'who decides')
    .requiredOption('--role <role>', 'in which role (needs the rollback permission)')
    .option('--note <text>', 'why, for the record')
    .action(async (o: { watch: string; rollback?: boolean; continue?: boolean; as: string; role: string; note?: string }) => {
      const { cmdDecideRollback } = await import('./watch.js');
      code = await cmdDecideRollback(cli, globals(), o);
    });

  program
    .command('report-issue')
    .argument('<summary>', 'what is wrong, in a sentence')
    .description("report an issue with the deployed release: the running watch's reported-issue trigger sees it")
    .option('-e, --env <name>', 'environment (default: production, else the first)')
    .requiredOption('--as <name>', 'who reports it')
    .action(async (summary: string, o: { env?: string; as: string }) => {
      const { cmdReportIssue } = await import('./watch.js');
      code = await cmdReportIssue(cli, globals(), summary, o);
    });

  const baseline = program.command('baseline').description('baselines a later deploy is compared with (aboveBaseline: triggers)');
  baseline
    .command('invalidate')
    .description('a baseline recorded at --release no longer counts (it was measured on a bad day); needs the rollback permission')
    .option('-e, --env <name>', 'environment (default: production, else the first)')
    .requiredOption('--as <name>', 'who invalidates it')
    .requiredOption('--role <role>', 'in which role (needs the rollback permission)')
    .requiredOption('--reason <text>', 'why, for the record')
    .action(async (o: { env?: string; as: string; role: string; reason: string }) => {
      const { cmdBaselineInvalidate } = await import('./watch.js');
      code = await cmdBaselineInvalidate(cli, globals(), o);
    });
  baseline
    .command('record')
    .description("measure the environment now (the stage set's http items, and Prometheus when configured) and store p50/p95/p99 and the error rate as its baseline")
    .option('-e, --env <name>', 'environment (default: production, else the first)')
    .option('--stage-set <name>', 'whose http items measure it (default: the one named like the environment, else production)')
    .option('--rounds <n>', 'rounds of requests (default 5)')
    .action(async (o: { env?: string; stageSet?: string; rounds?: string }) => {
      const { cmdBaselineRecord } = await import('./watch.js');
      code = await cmdBaselineRecord(cli, globals(), o);
    });

  program
    .command('replay')
    .description('run the configured triggers over a recorded series (a JSON-lines file, or Prometheus over a time range) and print when each would have fired; exit 0 whatever fired')
    .option('--from <file>', 'JSON lines, one observation per line: {at, error_rate, p50_ms, p95_ms, p99_ms, samples, items, reports}')
    .option('--prometheus', 'range queries of watch.metrics.prometheus instead of a file')
    .option('--start <time>', 'with --prometheus: from this ISO date-time (or epoch ms)')
    .option('--end <time>', 'with --prometheus: to this ISO date-time (or epoch ms)')
    .option('--step <duration>', 'with --prometheus: one evaluation per step, e.g. 30s')
    .option('-e, --env <name>', 'environment whose fields {{env.<field>}} in the queries read (default: the first)')
    .option('--stage-set <name>', 'whose critical items the default triggers watch', 'production')
    .option('--baseline <values>', 'the baseline aboveBaseline triggers compare with, e.g. p95_ms=300,error_rate=0.002')
    .addOption(formatOption(['text', 'json']))
    .action(async (o: ReplayCliOptions) => {
      const { cmdReplay } = await import('./replay.js');
      code = await cmdReplay(cli, globals(), o);
    });

  const user = program.command('user').description("the dashboard's people: accounts with a password (kept as a scrypt hash) and one role from roles:");
  user
    .command('add')
    .argument('<name>', 'who: letters, digits and . _ @ + - (as named in people:)')
    .description('add a person, or give one a new password and role: the password is read from $GONOGO_NEW_PASSWORD, else from stdin when it is not a terminal, else prompted without echo (never from the command line; at least 12 characters)')
    .requiredOption('--role <role>', 'their role (defined in roles:; held by them in people: when the config has it)')
    .action(async (name: string, o: { role: string }) => {
      const { cmdUserAdd } = await import('./accounts.js');
      code = await cmdUserAdd(cli, globals(), name, o);
    });
  user
    .command('list')
    .description('list the accounts: name, role, enabled or disabled, since when, by whom (never a hash)')
    .addOption(formatOption(['text', 'json']))
    .action(async (o: { format: string }) => {
      const { cmdUserList } = await import('./accounts.js');
      code = await cmdUserList(cli, globals(), o);
    });
  user
    .command('disable')
    .argument('<name>', 'whose account')
    .description('disable an account: its person can no longer sign in (user add enables it again, with a new password)')
    .action(async (name: string) => {
      const { cmdUserDisable } = await import('./accounts.js');
      code = await cmdUserDisable(cli, globals(), name);
    });
  const token = program.command('token').description('bearer tokens for CI jobs and rollout tools (kept as their SHA-256 only)');
  token
    .command('create')
    .argument('<name>', 'what uses it, e.g. ci-deploy or argo-rollouts')
    .description('create a token in a role from roles: and print it once on stdout (it cannot be shown again)')
    .requiredOption('--role <role>', 'its role (defined in roles:)')
    .action(async (name: string, o: { role: string }) => {
      const { cmdTokenCreate } = await import('./accounts.js');
      code = await cmdTokenCreate(cli, globals(), name, o);
    });
  token
    .command('list')
    .description('list the tokens: id, name, role, created, revoked (never a token or its hash)')
    .addOption(formatOption(['text', 'json']))
    .action(async (o: { format: string }) => {
      const { cmdTokenList } = await import('./accounts.js');
      code = await cmdTokenList(cli, globals(), o);
    });
  token
    .command('revoke')
    .argument('<id>', 'the id gonogo token list shows')
    .description('revoke a token: it no longer verifies, from the next request on')
    .action(async (id: string) => {
      const { cmdTokenRevoke } = await import('./accounts.js');
      code = await cmdTokenRevoke(cli, globals(), id);
    });

  program
    .command('serve')
    .description("the dashboard and its JSON API over HTTP (quick reference, checklist, runs, watch, audit; sign-off, waiver and decide-rollback forms), /metrics, and Argo Rollouts' and Flagger's endpoints; sign in with gonogo user add, or a bearer token from gonogo token create. Sessions are signed with a key made at start: a restart signs everyone out. Stops on SIGINT or SIGTERM")
    .option('--port <n>', 'port to listen on (0: any free port)', '4600')
    .option('--host <address>', 'address to listen on (127.0.0.1: this machine only)', '127.0.0.1')
    .option('--secure-cookies', 'mark the session cookie Secure even over plain HTTP (behind a TLS proxy that does not send X-Forwarded-Proto)')
    .option('--public-badge', 'serve /badge.svg (the verdict only) without sign-in')
    .option('--public-metrics', 'serve /metrics without a token')
    .option('-q, --quiet', 'no line per request on stderr')
    .action(async (o: ServeCliOptions) => {
      const { cmdServe } = await import('./serve.js');
      code = await cmdServe(cli, globals(), o);
    });

  program
    .command('schema')
    .description("print gonogo.yaml's JSON Schema")
    .action(async () => {
      const { cmdSchema } = await import('./commands.js');
      code = await cmdSchema(cli);
    });

  program
    .command('kinds')
    .description('list the check kinds with their options')
    .action(async () => {
      const { cmdKinds } = await import('./commands.js');
      code = await cmdKinds(cli);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.GO : EXIT.USAGE;
    }
    const { ConfigError } = await import('../config/loaded.js');
    const { AuthorityError } = await import('../engine/attest.js');
    if (err instanceof ConfigError || err instanceof UsageError || err instanceof AuthorityError) {
      await cli.err.write(`${err.message}\n`);
      return EXIT.USAGE;
    }
    // A store fault or an unwritable output (a full disk, an unwritable --out): nothing could be
    // recorded or written, one line, exit 2. Anything else is a bug in gonogo: its own code, so CI
    // never reads it as "your config is wrong", and never a decision's code.
    const { StoreError } = await import('../store/errors.js');
    const expected = err instanceof StoreError || err instanceof OutputError || isSystemError(err);
    await cli.err.write(`gonogo: ${expected ? '' : 'internal error: '}${err instanceof Error ? err.message : String(err)}\n`);
    if (cli.io.env.GONOGO_DEBUG && err instanceof Error && !(err instanceof OutputError)) await cli.err.write(`${err.stack}\n`);
    else if (!expected) await cli.err.write('gonogo: this is a bug; GONOGO_DEBUG=1 prints its stack trace for a report\n');
    return expected ? EXIT.USAGE : EXIT.INTERNAL;
  }
}

/** An error from the operating system (EACCES, ENOSPC, ...): a file could not be read or written, not a bug. */
function isSystemError(err: unknown): boolean {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code) && 'syscall' in err;
}

/** Options of `check` and `validate` as commander hands them over. */
export interface RunCliOptions {
  config: string;
  store?: string;
  maxConfigBytes?: string;
  release?: string;
  env?: string;
  tier?: string;
  only?: string;
  format: string;
  out?: string;
  acceptConditions?: boolean;
  quiet?: boolean;
  keepGoing?: boolean;
  stageSet?: string;
  url?: string;
}
