#!/usr/bin/env node
/**
 * The declog command line: the command table, and the one place that turns
 * errors into a message and an exit code.
 *
 * Exit codes: 0 done or verified, 1 verification or the operation failed,
 * 2 usage error (bad flags, arguments or input files), 3 network or server
 * error.
 */
import { Command, CommanderError } from 'commander';
import { NetworkError, UsageError } from '../src/errors.js';
import { useNodeCrypto } from '../src/crypto-node.js';
import { append } from './commands/append.js';
import { audit } from './commands/audit.js';
import { checkpoint } from './commands/checkpoint.js';
import { copy } from './commands/copy.js';
import { demo } from './commands/demo.js';
import { exportCommand } from './commands/export.js';
import { gateCheck } from './commands/gate-check.js';
import { storm0558 } from './commands/storm-0558.js';
import { get } from './commands/get.js';
import { migrate } from './commands/migrate.js';
import { DEFAULT_ORIGIN, init } from './commands/init.js';
import { monitor } from './commands/monitor.js';
import { collect } from './commands/progress-bar.js';
import { FORMATS, search } from './commands/search.js';
import { serve } from './commands/serve.js';
import { MAX_READERS } from '../server/main.js';
import { tilesExport } from './commands/tiles.js';
import { tokenAdd } from './commands/token.js';
import { verifyBundleCommand } from './commands/verify-bundle.js';
import { verifyConsistencyCommand } from './commands/verify-consistency.js';
import { verifyInclusionCommand } from './commands/verify-inclusion.js';
import { witnessInit, witnessServe } from './commands/witness.js';
import { POLICY_HELP } from './commands/policy.js';
import { count, defaultDataDir, oneOf, STORE_HELP, URL_HELP, VKEY_HELP } from './options.js';

const EXIT = { ok: 0, failed: 1, usage: 2, network: 3 } as const;

const EXIT_HELP = `
Exit codes:
  0  done, or verified
  1  verification failed, or the operation failed
  2  usage error: bad flags, arguments or input files
  3  network or server error`;

const DATA_HELP = 'ledger data folder (env DECLOG_DATA)';
const JSON_HELP = 'print machine-readable JSON instead of text';

function addInit(program: Command): void {
  program
    .command('init')
    .description('create a ledger: signing key, database and a first validator token')
    .option('--data <dir>', DATA_HELP, defaultDataDir())
    .option('--origin <name>', 'log origin, a scheme-less URL naming the log', DEFAULT_ORIGIN)
    .option('--store <url>', `${STORE_HELP}; keys still go to --data`)
    .option('--json', 'print {"origin", "verifier_key", "token"} as JSON')
    .action(init);
}

function addServe(program: Command): void {
  program
    .command('serve')
    .description('serve the ledger over HTTP until SIGINT or SIGTERM; logs JSON lines to stdout')
    .option('--data <dir>', DATA_HELP, defaultDataDir())
    .option('--port <n>', 'TCP port to listen on, 0 for any free port', count(0), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--init', 'create the ledger first if the data folder has none (token to stderr)')
    .option('--origin <name>', 'log origin used by --init', DEFAULT_ORIGIN)
    .option('--max-batch <n>', 'most entries in one commit (default: 1000)', count(1))
    .option(
      '--max-wait-ms <ms>',
      'longest an append waits for a batch to fill, in milliseconds (default: 0)',
      count(0),
    )
    .option(
      '--max-pending-commits <n>',
      'batches of a SQLite log that may wait for their commit at once; the next batch is hashed and signed while the previous one is made durable (default: 2)',
      count(1),
    )
    .option(
      '--policy <file>',
      'a c2sp.org/tlog-policy file: publish only checkpoints with its witness quorum',
    )
    .option(
      '--readers <n>',
      `extra processes, 0 to ${MAX_READERS}, that serve reads (proofs, checkpoints, entries, search, tiles) of a SQLite log on the same port and database file, and pass appends to this one; not with --policy (default: 0)`,
      count(0),
    )
    .option('--store <url>', `${STORE_HELP}; servers sharing one database elect one sequencer`)
    .option(
      '--advertise-url <url>',
      'URL the other servers of a shared log name for appends (default: the listening URL)',
    )
    .action(serve);
}

function addToken(program: Command): void {
  const token = program.command('token').description('manage validator tokens');
  token
    .command('add')
    .description('create a validator and print its bearer token, once')
    .argument('<name>', 'validator name, stamped in each decision it appends')
    .option('--data <dir>', DATA_HELP, defaultDataDir())
    .option('--store <url>', STORE_HELP)
    .option('--json', 'print {"validator", "token"} as JSON')
    .action(tokenAdd);
}

function addAppend(program: Command): void {
  program
    .command('append')
    .description(
      'append the decisions of a JSON Lines file, one per line, verifying each receipt; ' +
        'rerunning a file is safe: logged decisions come back as duplicates',
    )
    .argument('<file>', 'JSON Lines file of decisions, or - for stdin')
    .option('--url <url>', URL_HELP)
    .option('--token <token>', 'validator bearer token (default: $DECLOG_TOKEN)')
    .option('--vkey <key>', VKEY_HELP)
    .option('--batch-size <n>', 'decisions per request', count(1), 100)
    .option('--concurrency <n>', 'requests in flight at once', count(1), 4)
    .option(
      '--json',
      'print one receipt per line: {"line", "index", "leaf_hash", "duplicate", "tree_size"}',
    )
    .option(
      '--progress',
      'show entries/s on stderr every second even when stderr is not a terminal',
    )
    .action(append);
}

function addCheckpoint(program: Command): void {
  program
    .command('checkpoint')
    .description('fetch the latest checkpoint and verify its signature and origin')
    .argument('[url]', URL_HELP)
    .option('--vkey <key>', VKEY_HELP)
    .option('--policy <file>', POLICY_HELP)
    .option('--json', JSON_HELP)
    .action(checkpoint);
}

function addVerify(program: Command): void {
  const verify = program.command('verify').description('verify inclusion and consistency proofs');
  verify
    .command('inclusion')
    .description(
      'verify that an entry is in the log: online with --index, or offline with --proof and --entry',
    )
    .option('--url <url>', URL_HELP)
    .option('--index <n>', 'online: index of the entry', count(0))
    .option(
      '--tree-size <n>',
      'online: tree size of a published checkpoint (default: the latest)',
      count(1),
    )
    .option('--proof <file>', 'offline: a c2sp.org/tlog-proof file')
    .option('--entry <file>', "offline: the entry's exact bytes (raw CBOR)")
    .option('--entry-base64 <text>', "offline: the entry's exact bytes in base64")
    .option('--vkey <key>', VKEY_HELP)
    .option('--policy <file>', `online: ${POLICY_HELP}`)
    .option('--json', JSON_HELP)
    .action(verifyInclusionCommand);
  verify
    .command('consistency')
    .description(
      'verify that a newer checkpoint extends an older one: online with --old, or offline with three files',
    )
    .option('--url <url>', URL_HELP)
    .option('--old <n>', 'online: older tree size', count(1))
    .option('--new <n>', 'online: newer tree size (default: the latest)', count(1))
    .option('--old-checkpoint <file>', 'offline: the older signed checkpoint')
    .option('--checkpoint <file>', 'offline: the newer signed checkpoint')
    .option('--proof <file>', 'offline: the consistency proof, one hex or base64 hash per line')
    .option('--vkey <key>', VKEY_HELP)
    .option('--policy <file>', `online: ${POLICY_HELP}`)
    .option('--json', JSON_HELP)
    .action(verifyConsistencyCommand);
}

function addGet(program: Command): void {
  program
    .command('get')
    .description('print one logged decision; with --vkey also verify its inclusion')
    .argument('<index>', 'index of the entry', count(0))
    .option('--url <url>', URL_HELP)
    .option('--vkey <key>', `${VKEY_HELP}; verifies the entry's inclusion in the latest checkpoint`)
    .option('--policy <file>', `with --vkey: ${POLICY_HELP}`)
    .option('--json', JSON_HELP)
    .option(
      '--proof-out <file>',
      'write the verified inclusion proof as a c2sp.org/tlog-proof file (needs --vkey)',
    )
    .option('--entry-out <file>', "write the entry's exact bytes (raw CBOR)")
    .action(get);
}

function addSearch(program: Command): void {
  program
    .command('search')
    .description('search logged decisions; says up to which tree size the search index reaches')
    .argument('[url]', URL_HELP)
    .option('--url <url>', `${URL_HELP}, when not given as the argument`)
    .option('--kid <kid>', 'key ID from the token header')
    .option('--iss <issuer>', 'token issuer')
    .option('--aud <audience>', 'audience the relying party required')
    .option('--key-domain <domain>', 'domain of the signing key, such as consumer or enterprise')
    .option('--tenant <tenant>', 'tenant the token claims')
    .option('--rp <name>', 'relying party that made the decision')
    .option('--decision <verdict>', 'accept or reject', oneOf(['accept', 'reject'] as const))
    .option('--since <time>', 'earliest decision time, inclusive: Unix milliseconds or RFC 3339')
    .option('--until <time>', 'latest decision time, inclusive: Unix milliseconds or RFC 3339')
    .option('--limit <n>', 'decisions per page, 1 to 1000', count(1), 100)
    .option('--all', 'follow the pages until every match is printed')
    .option('--format <format>', 'table, json (JSON lines) or csv', oneOf(FORMATS), 'table')
    .option('--json', 'same as --format json')
    .action(search);
}

function addDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'validate real JWTs from a consumer and an enterprise issuer (forged cross-domain ones included) ' +
        'with a fail-closed gate, append every decision to a running ledger, then verify with this CLI',
    )
    .option('--url <url>', URL_HELP)
    .option(
      '--data <dir>',
      `${DATA_HELP}: read log.pub and create a demo validator there`,
      defaultDataDir(),
    )
    .option('--token <token>', 'validator token to use instead (env DECLOG_TOKEN)')
    .option('--count <n>', 'tokens to validate', count(1), 500)
    .action(demo);
}

function addGateCheck(program: Command): void {
  program
    .command('gate-check')
    .description(
      'run a fixed suite of cross-domain tokens (foreign key domain, wrong issuer, audience or tenant, ' +
        'unknown kid, alg none or switched, expired, and one valid token) against the token gate of a ' +
        'trust configuration; exits 1 if a token that must be rejected is accepted or the valid one is ' +
        'rejected. The keys of every key domain (jwks and jwks_uri) are replaced by throwaway keys ' +
        'generated for the run, the relying-party rules are kept, and nothing is fetched',
    )
    .requiredOption('--config <file>', 'trust configuration: {"key_domains", "relying_parties"}')
    .option('--rp <names...>', 'relying parties to check (default: all)')
    .option('--json', 'print one JSON line per case: {"rp", "case", "expected", "actual", "pass"}')
    .action(gateCheck);
}

function addStorm0558(program: Command): void {
  program
    .command('storm-0558')
    .description(
      'replay the Storm-0558 forgery on loopback: two identity providers, a ledger, a flawed mail ' +
        'validator and a gated one; shows the forged accepts in the ledger with verified proofs',
    )
    .option('--count <n>', 'sign-ins to replay', count(1), 300)
    .option('--json', 'print the summary as JSON')
    .action(storm0558);
}

function addAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'verify that the log only grows: check the checkpoint, prove it consistent with the saved one ' +
        'and recompute the tree from the entries; a fork or rollback writes evidence and exits 1',
    )
    .argument('[url]', URL_HELP)
    .option('--vkey <key>', VKEY_HELP)
    .option('--state <file>', 'state file: the last verified checkpoint, replaced after each pass')
    .option('--witness <key>', 'witness cosignature verifier key (repeatable)', collect)
    .option('--quorum <n>', 'witness cosignatures required (default: every --witness)', count(0))
    .option('--follow', 'keep auditing every --interval seconds')
    .option('--interval <s>', 'seconds between rounds with --follow', count(1), 10)
    .option(
      '--evidence <file>',
      'where to write evidence of a fork (default: ./declog-evidence-<ms>.json)',
    )
    .option('--concurrency <n>', 'entry bundle requests in flight', count(1), 8)
    .option('--json', JSON_HELP)
    .action(audit);
}

function addMonitor(program: Command): void {
  program
    .command('monitor')
    .description(
      'verify every new entry against the checkpoint and evaluate the rules of a JSON or YAML file on it; ' +
        'each alert is one JSON line with its entry, inclusion proof and checkpoint',
    )
    .argument('[url]', URL_HELP)
    .option('--vkey <key>', VKEY_HELP)
    .option(
      '--rules <file>',
      'rule file, {"rules": [{"name", "when", "kind", ...}]}: .json is read as JSON, ' +
        '.yaml and .yml as strict YAML 1.2 (no duplicate keys, tags, anchors or aliases; ' +
        'one document); any other name as JSON if it parses, else as YAML',
    )
    .option('--state <file>', 'state file: checkpoint, tree and rule memory, to resume from')
    .option('--once', 'stop at the current checkpoint; exit 1 if any alert fired')
    .option('--interval <s>', 'seconds between polls when following', count(1), 5)
    .option('--webhook <url>', 'also POST each alert as JSON to this URL')
    .option('--concurrency <n>', 'entry bundle requests in flight', count(1), 8)
    .option('--json', 'print the round summaries on stderr as JSON')
    .action(monitor);
}

function addWitness(program: Command): void {
  const witness = program
    .command('witness')
    .description('a witness that cosigns log checkpoints (c2sp.org/tlog-witness)');
  witness
    .command('init')
    .description('create a witness: a cosignature/v1 key (mode 0600) and its state database')
    .option('--data <dir>', 'witness data folder', defaultDataDir())
    .requiredOption('--name <name>', 'witness key name, such as witness.example/w1')
    .option('--json', 'print {"name", "verifier_key"} as JSON')
    .action(witnessInit);
  witness
    .command('serve')
    .description('serve POST /add-checkpoint until SIGINT or SIGTERM; logs JSON lines to stdout')
    .option('--data <dir>', 'witness data folder', defaultDataDir())
    .option('--port <n>', 'TCP port to listen on, 0 for any free port', count(0), 8081)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .requiredOption(
      '--log <vkey>',
      "a log's verifier key, or @FILE (repeatable)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .action(witnessServe);
}

function addTiles(program: Command): void {
  const tiles = program.command('tiles').description('the static tile API (c2sp.org/tlog-tiles)');
  tiles
    .command('export')
    .description(
      'write the checkpoint, tiles and entry bundles as static files under OUT; ' +
        'run again, writes only what is new; the checkpoint is written last',
    )
    .argument('<out>', 'output folder')
    .option('--data <dir>', DATA_HELP, defaultDataDir())
    .action(tilesExport);
}

function addExport(program: Command): void {
  program
    .command('export')
    .description(
      'write a bundle that verifies offline: the matching decisions with their inclusion proofs, ' +
        'or with --range every entry of A..B with a proof that none is left out',
    )
    .argument('[url]', URL_HELP)
    .option('--vkey <key>', VKEY_HELP)
    .option('-o, --output <file>', 'bundle file to write (CBOR)')
    .option('--range <A..B>', 'export entries A to B-1 with a completeness proof')
    .option('--kid <kid>', 'key ID from the token header')
    .option('--iss <issuer>', 'token issuer')
    .option('--aud <audience>', 'audience the relying party required')
    .option('--key-domain <domain>', 'domain of the signing key')
    .option('--tenant <tenant>', 'tenant the token claims')
    .option('--rp <name>', 'relying party that made the decision')
    .option('--decision <verdict>', 'accept or reject', oneOf(['accept', 'reject'] as const))
    .option('--since <time>', 'earliest decision time: Unix milliseconds or RFC 3339')
    .option('--until <time>', 'latest decision time: Unix milliseconds or RFC 3339')
    .option('--json', JSON_HELP)
    .action(exportCommand);
}

function addVerifyBundle(program: Command): void {
  program
    .command('verify-bundle')
    .description('verify an export bundle offline and print what it proves')
    .argument('<file>', 'bundle written by declog export')
    .option('--vkey <key>', VKEY_HELP)
    .option('--json', JSON_HELP)
    .action(verifyBundleCommand);
}

function addMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply the schema versions a store lacks, and say which ones were applied')
    .option('--store <url>', STORE_HELP)
    .option('--data <dir>', `${DATA_HELP}, for its SQLite file`, defaultDataDir())
    .option('--json', 'print {"store", "from", "to"} as JSON')
    .action(migrate);
}

function addCopy(program: Command): void {
  program
    .command('copy')
    .description(
      'copy a log into an empty PostgreSQL database, then prove the copy by recomputing ' +
        'the checkpoint roots from the copied entries and tiles',
    )
    .requiredOption(
      '--from <source>',
      'sqlite:PATH or a data folder (its log.pub verifies the checkpoint)',
    )
    .requiredOption('--to <url>', 'postgres://user:password@host:port/database, empty')
    .option(
      '--json',
      'print {"tree_size", "root_hash", "checkpoints", "tiles", "validators"} as JSON',
    )
    .action(copy);
}

/** Builds the command table. */
function buildProgram(): Command {
  const program = new Command('declog')
    .description('declog: an append-only, verifiable log of token-validation decisions')
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', EXIT_HELP);
  for (const add of [
    addInit,
    addServe,
    addToken,
    addAppend,
    addCheckpoint,
    addVerify,
    addGet,
    addSearch,
    addDemo,
    addMigrate,
    addCopy,
    addWitness,
    addTiles,
    addGateCheck,
    addStorm0558,
    addAudit,
    addMonitor,
    addExport,
    addVerifyBundle,
  ]) {
    add(program);
  }
  return program;
}

/** Maps an error to its exit code. */
function exitCode(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof NetworkError) return EXIT.network;
  return EXIT.failed;
}

/** Returns the one line printed for an error, or undefined when commander already printed help. */
function errorLine(err: unknown): string | undefined {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0 || err.code === 'commander.help') return undefined;
    return `${err.message.replace(/^error: /, '')} (see --help)`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ');
}

async function main(argv: string[]): Promise<void> {
  useNodeCrypto();
  // A reader that closes the pipe early, as `declog --help | head` does, wants no more output.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const line = errorLine(err);
    if (line !== undefined) process.stderr.write(`declog: ${line}\n`);
    process.exitCode = exitCode(err);
  }
}

await main(process.argv);
