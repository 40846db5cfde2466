/**
 * Runs the core ledger's benchmarks and prints one table. Each throughput is
 * also given as a ratio to the baseline measured in the same run: the rate
 * at which this machine builds an RFC 6962 tree of 1 million leaves with
 * node:crypto SHA-256. Servers run in child processes on 127.0.0.1 and every
 * temporary folder and child is removed at the end.
 *
 * Run: npm run bench -- [--quick] [--full] [--only NAME[,NAME]] [--seconds N]
 *        [--json FILE] [--profile DIR] [--client wrk|node] [--readers N]
 *        [--append-readers N] [--batch-in-flight N]
 *
 * --client picks the HTTP load generator: wrk (the default when it is on
 * PATH, one thread) or the node:http client in bench/load.ts. --readers
 * starts the servers of the read figures (proofs, memory, search) with
 * that many reader processes (default 1, which with the server's own
 * process fills a 2-core machine). --append-readers does the same for the
 * append figures (default 0: every append is sequenced by the first
 * process, and passing it from a reader only adds work). --batch-in-flight
 * sets the requests in flight of the batched append figure (default 16).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { useNodeCrypto } from '../src/crypto-node.js';
import { benchAppends } from './appends.js';
import { type BigLog, buildBigLog, growOverHttp } from './big-log.js';
import { cleanUpOnExit, removeAll } from './cleanup.js';
import { benchCrypto, faster } from './crypto.js';
import { benchDecisions } from './decision.js';
import { benchTreeBuild } from './hashing.js';
import { type LoadClient, type LoadResult, parseClient } from './load.js';
import { formatLoad, type MachineInfo, machineInfo } from './machine.js';
import { formatHotSpots, readHotSpots } from './profile.js';
import { benchProofs } from './proofs.js';
import { benchSearch } from './search.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

export const FIGURES = [
  'baseline',
  'crypto',
  'codec',
  'append-batch',
  'append-single',
  'proofs',
  'memory',
  'search',
] as const;
type Figure = (typeof FIGURES)[number];

/** Reader processes of the servers of the read figures, unless --readers sets another number. */
const DEFAULT_READERS = 1;
/**
 * Reader processes of the servers of the append figures, unless
 * --append-readers sets another number. In 10 s runs on the 2-core machine,
 * one reader lowered single decisions from 9,740/s to 7,830/s.
 */
const DEFAULT_APPEND_READERS = 0;
/** Leaves of the baseline tree build. */
const BASELINE_LEAVES = 1_000_000;
/** Entries of the log that proofs, search and memory run on (100,000 with --quick). */
const LOG_SIZE = 1_000_000;
const QUICK_LOG_SIZE = 100_000;
/** Size the memory figure grows the log to (--full only): ten times the log, 1M with --quick. */
const GROWTH_FACTOR = 10;
/** Duration of the proof and search runs, which are not sustained runs. */
const PROBE_SECONDS = 20;
const QUICK_PROBE_SECONDS = 3;
/**
 * Requests in flight for each HTTP figure. Batched appends use the fewest
 * that reach the server's full rate: on the 2-core machine, 16 and 24 in
 * flight gave the same rate, and 32 only doubled the time each request
 * waited (--batch-in-flight sets another number).
 */
const CONCURRENCY = { appendBatch: 16, appendSingle: 50, proofs: 16, search: 8 };
/** The memory figure counts as flat when the last RSS is at most this times the first step's. */
const FLAT_RSS_FACTOR = 1.25;

interface Options {
  quick: boolean;
  full: boolean;
  only: Set<Figure>;
  seconds: number;
  warmUpSeconds: number;
  probeSeconds: number;
  logSize: number;
  json?: string;
  profileDir?: string;
  /** The HTTP load generator. */
  client: LoadClient;
  /** Reader processes of the read figures' servers (`declog serve --readers`). */
  readers: number;
  /** Reader processes of the append figures' servers. */
  appendReaders: number;
  /** Requests in flight of the batched append figure. */
  batchInFlight: number;
}

/** One line of the table; `ratio` is the throughput divided by the baseline's. */
interface Row {
  figure: string;
  result: string;
  ratio?: number;
  target?: string;
  met?: boolean;
}

class Report {
  readonly rows: Row[] = [];
  readonly data: Record<string, unknown> = {};
  /** Error log lines of the server children, by figure. */
  readonly serverErrors: { figure: string; lines: string[] }[] = [];
  baseline = NaN;

  add(row: Omit<Row, 'ratio'> & { rate?: number }): void {
    const { rate, ...rest } = row;
    this.rows.push({ ...rest, ratio: rate === undefined ? undefined : rate / this.baseline });
  }
}

function parseOnly(value: string | undefined): Set<Figure> {
  if (value === undefined) return new Set(FIGURES);
  const names = value.split(',').map((n) => n.trim());
  for (const name of names) {
    if (!(FIGURES as readonly string[]).includes(name)) {
      throw new Error(`--only ${name}: not a figure; use one or more of ${FIGURES.join(', ')}`);
    }
  }
  return new Set(names as Figure[]);
}

function parseSeconds(value: string | undefined, quick: boolean): number {
  if (value === undefined) return quick ? 5 : 60;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(`--seconds ${value}: expected a positive number of seconds`);
  }
  return seconds;
}

/** Parses a whole number option of at least `min`; `unit` names what it counts in the error. */
function parseCount(
  option: string,
  value: string | undefined,
  fallback: number,
  min: number,
  unit: string,
): number {
  if (value === undefined) return fallback;
  const count = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(count) || count < min) {
    throw new Error(`${option} ${value}: expected a whole number of ${unit}, at least ${min}`);
  }
  return count;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      only: { type: 'string' },
      seconds: { type: 'string' },
      json: { type: 'string' },
      profile: { type: 'string' },
      client: { type: 'string' },
      readers: { type: 'string' },
      'append-readers': { type: 'string' },
      'batch-in-flight': { type: 'string' },
    },
  });
  const quick = values.quick;
  return {
    quick,
    full: values.full,
    only: parseOnly(values.only),
    seconds: parseSeconds(values.seconds, quick),
    warmUpSeconds: quick ? 1 : 5,
    probeSeconds: quick ? QUICK_PROBE_SECONDS : PROBE_SECONDS,
    logSize: quick ? QUICK_LOG_SIZE : LOG_SIZE,
    json: values.json,
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
    client: parseClient(values.client),
    readers: parseCount('--readers', values.readers, DEFAULT_READERS, 0, 'processes'),
    appendReaders: parseCount(
      '--append-readers',
      values['append-readers'],
      DEFAULT_APPEND_READERS,
      0,
      'processes',
    ),
    batchInFlight: parseCount(
      '--batch-in-flight',
      values['batch-in-flight'],
      CONCURRENCY.appendBatch,
      1,
      'requests',
    ),
  };
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function rate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

function millions(n: number): string {
  return `${n / 1e6}M`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function latency(load: LoadResult): string {
  const l = load.latency;
  return `p50 ${ms(l.p50Ms)} ms, p99 ${ms(l.p99Ms)} ms, max ${ms(l.maxMs)} ms`;
}

/**
 * Cores used by the server and by the load generator, the server's rate
 * per core it used (on a shared machine that figure moves less than the
 * rate), and the client that generated the load.
 */
function cores(load: LoadResult, perRequest = 1): string {
  const generator = `load generator ${load.clientCores.toFixed(2)}; client: ${load.client}`;
  if (load.serverCores === undefined) return `cores: ${generator}`;
  const perCore = (load.requestsPerSecond * perRequest) / load.serverCores;
  return `cores: server ${load.serverCores.toFixed(2)} (${rate(perCore)}/s per core), ${generator}`;
}

function errorsOf(load: LoadResult): string {
  if (load.failed === 0) return 'all 200';
  return Object.entries(load.errors)
    .map(([status, count]) => `${count} x ${status}`)
    .join(', ');
}

/** Figure 1: the tree build with @noble/hashes, then with node:crypto, which stays on. */
async function runBaseline(report: Report): Promise<void> {
  say('baseline: building a tree of 1M leaves with @noble/hashes, then node:crypto');
  const noble = await benchTreeBuild(BASELINE_LEAVES);
  useNodeCrypto();
  const node = await benchTreeBuild(BASELINE_LEAVES);
  report.baseline = node.leavesPerSecond;
  report.data['baseline'] = { leaves: BASELINE_LEAVES, noble, node };
  const nobleRate = noble.leavesPerSecond;
  report.add({
    figure: 'tree build 1M (node:crypto)',
    result: `${rate(node.leavesPerSecond)} leaves/s`,
    rate: node.leavesPerSecond,
  });
  report.add({
    figure: 'tree build 1M (@noble)',
    result: `${rate(nobleRate)} leaves/s`,
    rate: nobleRate,
  });
}

/** Figure 2: SHA-256 and Ed25519, @noble against node:crypto. */
function runCrypto(report: Report, options: Options): void {
  say('crypto: SHA-256 and Ed25519, @noble against node:crypto');
  const figures = benchCrypto(options.quick ? 300 : 2000);
  report.data['crypto'] = figures;
  for (const f of figures) {
    const result = `noble ${rate(f.noblePerSecond)}/s, node ${rate(f.nodePerSecond)}/s; faster: ${faster(f)}`;
    report.add({ figure: f.name, result, rate: f.nodePerSecond });
  }
}

/** Figure 3: the decision codec. */
function runCodec(report: Report, options: Options): void {
  say('codec: encoding and decoding decisions');
  const codec = benchDecisions(options.quick ? 20_000 : 200_000);
  report.data['codec'] = codec;
  report.add({
    figure: 'decision encode',
    result: `${rate(codec.encodePerSecond)}/s`,
    rate: codec.encodePerSecond,
  });
  report.add({
    figure: 'decision decode',
    result: `${rate(codec.decodePerSecond)}/s`,
    rate: codec.decodePerSecond,
  });
}

/** Figures 4 and 5: sustained appends in batches of 100, then single decisions. */
async function runAppends(report: Report, options: Options, batch: number): Promise<void> {
  const concurrency = batch === 1 ? CONCURRENCY.appendSingle : options.batchInFlight;
  say(`appends: ${batch} per request, ${concurrency} in flight, ${options.seconds} s`);
  const figure = await benchAppends({
    batch,
    concurrency,
    seconds: options.seconds,
    warmUpSeconds: options.warmUpSeconds,
    profileDir: options.profileDir,
    readers: options.appendReaders,
    client: options.client,
  });
  const { load } = figure;
  if (figure.serverErrors.length > 0) {
    report.serverErrors.push({ figure: `append x${batch}`, lines: figure.serverErrors });
  }
  const targetRate = batch === 1 ? 10_000 : 50_000;
  const targetP99 = batch === 1 ? 50 : 100;
  report.data[batch === 1 ? 'appendSingle' : 'appendBatch'] = { ...figure, concurrency };
  report.add({
    figure:
      batch === 1
        ? `append x1, ${concurrency} clients`
        : `append x${batch}, ${concurrency} in flight`,
    result: `${rate(figure.decisionsPerSecond)} decisions/s; ${latency(load)}; ${errorsOf(load)}; ${cores(load, batch)}; ${figure.verifiedReceipts} receipts verified`,
    rate: figure.decisionsPerSecond,
    target: `>= ${rate(targetRate)}/s, p99 <= ${targetP99} ms`,
    met:
      load.failed === 0 &&
      figure.decisionsPerSecond >= targetRate &&
      load.latency.p99Ms <= targetP99,
  });
}

/** Figure 6: inclusion proofs on the big log, and the server's RSS after them. */
async function runProofs(report: Report, options: Options, log: BigLog, server: ServerProcess) {
  say(`proofs: random indexes of ${log.build.entries} entries, ${CONCURRENCY.proofs} in flight`);
  const figure = await benchProofs({
    url: server.url,
    serverPid: server.pid,
    size: options.logSize,
    concurrency: CONCURRENCY.proofs,
    seconds: options.probeSeconds,
    warmUpSeconds: options.warmUpSeconds,
    verifierKey: log.init.verifierKey,
    validator: log.init.validator,
    builtSize: options.logSize,
    client: options.client,
  });
  const rss = server.rssBytes();
  const { load } = figure;
  report.data['proofs'] = { ...figure, rssBytes: rss, logSize: options.logSize };
  report.add({
    figure: `inclusion proof, ${millions(options.logSize)} log`,
    result: `${rate(load.requestsPerSecond)} proofs/s; ${latency(load)}; ${errorsOf(load)}; ${cores(load)}; ${figure.verifiedProofs} verified; server RSS ${mib(rss)}`,
    rate: load.requestsPerSecond,
    target: '>= 10,000/s, p99 <= 5 ms',
    met: load.failed === 0 && load.requestsPerSecond >= 10_000 && load.latency.p99Ms <= 5,
  });
  return rss;
}

/** Figure 8: search pages of 100 by kid on the big log. */
async function runSearch(report: Report, options: Options, server: ServerProcess): Promise<void> {
  say(`search: pages of 100 by kid, ${CONCURRENCY.search} in flight`);
  const figure = await benchSearch({
    url: server.url,
    serverPid: server.pid,
    size: options.logSize,
    concurrency: CONCURRENCY.search,
    seconds: options.probeSeconds,
    warmUpSeconds: options.warmUpSeconds,
    client: options.client,
  });
  const { load } = figure;
  report.data['search'] = { ...figure };
  report.add({
    figure: `search by kid, page of 100, ${millions(options.logSize)} log`,
    result: `${rate(load.requestsPerSecond)} queries/s; ${latency(load)}; ${errorsOf(load)}; ${cores(load)}; ${figure.checkedPages} pages checked`,
    rate: load.requestsPerSecond,
  });
}

/**
 * Grows the log through the server in GROWTH_FACTOR - 1 steps of the log's
 * size, reading the server's RSS after each step, and returns the readings.
 */
async function growInSteps(options: Options, log: BigLog, server: ServerProcess) {
  const steps: { size: number; rssBytes: number; seconds: number; failed: number }[] = [];
  for (let step = 1; step < GROWTH_FACTOR; step++) {
    const from = options.logSize * step;
    const to = from + options.logSize;
    const growth = await growOverHttp(server, log, from, to);
    steps.push({
      size: to,
      rssBytes: server.rssBytes(),
      seconds: growth.seconds,
      failed: growth.failed,
    });
    say(`memory: ${to} entries, server RSS ${mib(server.rssBytes())}`);
  }
  return steps;
}

/**
 * Figure 7 (--full): grows the log tenfold through the server, then serves
 * proofs again. The first step also warms up the append path, so the RSS is
 * called flat when the last reading is within FLAT_RSS_FACTOR of the first.
 */
async function runMemory(
  report: Report,
  options: Options,
  log: BigLog,
  server: ServerProcess,
  rssBefore: number,
) {
  const grown = options.logSize * GROWTH_FACTOR;
  say(`memory: growing the log from ${options.logSize} to ${grown} entries over HTTP`);
  const steps = await growInSteps(options, log, server);
  const proofs = await benchProofs({
    url: server.url,
    serverPid: server.pid,
    size: grown,
    concurrency: CONCURRENCY.proofs,
    seconds: options.probeSeconds,
    warmUpSeconds: options.warmUpSeconds,
    verifierKey: log.init.verifierKey,
    validator: log.init.validator,
    builtSize: options.logSize,
    client: options.client,
  });
  const rss = server.rssBytes();
  const first = steps[0]!.rssBytes;
  const seconds = steps.reduce((sum, s) => sum + s.seconds, 0);
  const failed = steps.reduce((sum, s) => sum + s.failed, 0);
  report.data['memory'] = { rssBefore, steps, rssAfterProofs: rss, growthSeconds: seconds, proofs };
  const series = [rssBefore, ...steps.map((s) => s.rssBytes), rss].map(mib).join(', ');
  report.add({
    figure: `server RSS, ${millions(options.logSize)} to ${millions(grown)} entries`,
    result: `RSS ${series} (before, after each ${millions(options.logSize)}, after proofs); grew over HTTP in ${seconds.toFixed(0)} s (${rate((grown - options.logSize) / seconds)}/s, ${failed} failed; client: node); proofs then ${rate(proofs.load.requestsPerSecond)}/s, ${latency(proofs.load)}; client: ${proofs.load.client}`,
    target: `flat (last <= ${FLAT_RSS_FACTOR} x first step)`,
    met: rss <= FLAT_RSS_FACTOR * first && failed === 0,
  });
}

/** Figures 6 to 8 share one big log and one server child. */
async function runBigLog(report: Report, options: Options): Promise<void> {
  say(`big log: appending ${options.logSize} entries in this process`);
  const log = await buildBigLog(options.logSize);
  report.data['build'] = log.build;
  report.add({
    figure: `build ${millions(options.logSize)} log in-process`,
    result: `${rate(log.build.entriesPerSecond)} entries/s, ${log.build.seconds.toFixed(1)} s`,
    rate: log.build.entriesPerSecond,
  });
  const server = await startServerProcess(log.dataDir, {
    profileDir: options.profileDir,
    readers: options.readers,
  });
  try {
    let rss = server.rssBytes();
    if (options.only.has('proofs') || options.only.has('memory')) {
      rss = await runProofs(report, options, log, server);
    }
    if (options.only.has('search')) await runSearch(report, options, server);
    if (options.only.has('memory') && options.full)
      await runMemory(report, options, log, server, rss);
  } finally {
    const lines = server.errorLines();
    if (lines.length > 0) report.serverErrors.push({ figure: 'big log', lines });
    await server.stop();
  }
}

function metLabel(met: boolean | undefined): string {
  if (met === undefined) return '';
  return met ? 'met' : 'MISSED';
}

function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [
    r.figure,
    r.result,
    r.ratio === undefined ? '' : r.ratio.toPrecision(3),
    r.target ?? '',
    metLabel(r.met),
  ]);
  const header = ['figure', 'result', 'x baseline', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  for (const line of [header, ...cells]) {
    console.log(
      line
        .map((c, i) => c.padEnd(widths[i]!))
        .join(' | ')
        .trimEnd(),
    );
  }
}

function printServerErrors(report: Report): void {
  for (const { figure, lines } of report.serverErrors) {
    console.log(`\nserver error log lines during ${figure} (last ${lines.length}):`);
    for (const line of lines) console.log(line);
  }
}

function printProfiles(dir: string): void {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    console.log(`\nCPU profile ${join(dir, file)}, top self times:`);
    console.log(formatHotSpots(readHotSpots(join(dir, file), 12)));
  }
}

function printMachine(when: string): MachineInfo {
  const m = machineInfo();
  console.log(
    `${when}: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(0)} GiB, node ${m.node}, load average ${formatLoad(m.loadAverage)}`,
  );
  return m;
}

async function runAll(options: Options, report: Report): Promise<void> {
  const has = (f: Figure) => options.only.has(f);
  await runBaseline(report);
  if (has('crypto')) runCrypto(report, options);
  if (has('codec')) runCodec(report, options);
  if (has('append-batch')) await runAppends(report, options, 100);
  if (has('append-single')) await runAppends(report, options, 1);
  if (has('proofs') || has('search') || (has('memory') && options.full))
    await runBigLog(report, options);
}

/** Names the run: quick, full, quick and full, or standard. */
function modeOf(options: Options): string {
  const modes = [options.quick && 'quick', options.full && 'full'].filter(Boolean);
  return modes.length === 0 ? 'standard' : modes.join(' and ');
}

function writeJson(
  file: string,
  options: Options,
  report: Report,
  start: MachineInfo,
  end: MachineInfo,
) {
  const json = {
    mode: modeOf(options),
    options: { ...options, only: [...options.only] },
    machine: { start, end },
    rows: report.rows,
    results: report.data,
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
}

/** An invalid command line: printed without a stack trace, exit code 2. */
class UsageError extends Error {}

async function main(args: string[]): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(args);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  cleanUpOnExit();
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  const mode = modeOf(options);
  console.log(
    `declog bench (${mode}): sustained runs ${options.seconds} s, probes ${options.probeSeconds} s, log ${options.logSize} entries, HTTP load from ${options.client}`,
  );
  const start = printMachine('machine at start');
  const report = new Report();
  try {
    await runAll(options, report);
  } finally {
    removeAll();
  }

  const end = printMachine('machine at end');
  console.log('');
  printTable(report.rows);
  printServerErrors(report);
  if (options.only.has('memory') && !options.full)
    console.log('\nmemory figure skipped: it needs --full');
  if (options.profileDir) printProfiles(options.profileDir);
  if (options.json) writeJson(options.json, options, report, start, end);
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  removeAll();
  if (err instanceof UsageError) {
    console.error(`bench: ${err.message}`);
    process.exitCode = 2;
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  }
}
