/**
 * Figures of the static tile API (c2sp.org/tlog-tiles), on a log built in
 * the same run and served by a server child on 127.0.0.1:
 *
 * - tile reads per second over keep-alive connections: random full level-0
 *   hash tiles (`tile/0/<N>`) and random full entry bundles
 *   (`tile/entries/<N>`), with latency, and as a ratio to the tree-build
 *   rate (node:crypto SHA-256) measured in the same run;
 * - the bytes a full audit downloads: the checkpoint, every full and partial
 *   hash tile of every level, and every entry bundle. Each is fetched and
 *   checked: hash tiles against the byte count the tile layout implies,
 *   bundles against the level-0 hashes, upper levels against the tiles
 *   below, and the tree root against the signed checkpoint.
 *
 * Run: npm run build && node dist/bench/tiles.js [--entries N] [--seconds S] [--concurrency C]
 *        [--client wrk|node]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openCheckpoint } from '../src/checkpoint.js';
import { useNodeCrypto } from '../src/crypto-node.js';
import { bytesEqual, parseDecimal } from '../src/encoding.js';
import { HASH_SIZE, leafHash, nodeHash } from '../src/hash.js';
import { newVerifier } from '../src/note.js';
import { CompactRange, rangeNodes } from '../src/range.js';
import {
  decodeBundle,
  entriesPath,
  TILE_HEIGHT,
  TILE_WIDTH,
  type TileId,
  tilePath,
  tileWidth,
} from '../src/tiles.js';
import { buildBigLog } from './big-log.js';
import { cleanUpOnExit, removeAll } from './cleanup.js';
import { benchTreeBuild } from './hashing.js';
import { type LoadClient, type LoadResult, parseClient, runLoad } from './load.js';
import { formatLoad, machineInfo } from './machine.js';
import { startServerProcess } from './server-process.js';

/** Requests in flight for the read rates: enough to keep the single-threaded server busy. */
export const TILE_CONCURRENCY = 32;
/** Requests in flight while downloading the whole log, as an auditor would. */
const AUDIT_IN_FLIGHT = 8;
/** Leaves of the tree-build baseline. */
const BASELINE_LEAVES = 1_000_000;

export interface TileBenchOptions {
  /** Base URL of the server, whose host must be 127.0.0.1 or [::1]. */
  url: string;
  /** Process ID of the server, for its CPU use. */
  serverPid: number;
  /** Verifier key of the log, to open its checkpoint. */
  verifierKey: string;
  /** Measured duration of each read rate. */
  seconds: number;
  warmUpSeconds: number;
  /** Requests in flight for the read rates (default TILE_CONCURRENCY). */
  concurrency?: number;
  /** The load generator (default: wrk when it is on PATH). */
  client?: LoadClient;
}

/** Hash tiles of one level that a full download fetches. */
export interface LevelDownload {
  level: number;
  tiles: number;
  bytes: number;
}

/** Response body bytes that a full audit of the log downloads. */
export interface AuditDownload {
  /** Tree size of the checkpoint the download starts from. */
  size: number;
  checkpointBytes: number;
  levels: LevelDownload[];
  hashTileBytes: number;
  bundles: number;
  bundleBytes: number;
  totalBytes: number;
  bytesPerEntry: number;
  /** Seconds to fetch and check everything. */
  seconds: number;
}

export interface TileFigure {
  concurrency: number;
  /** Random full level-0 hash tiles. */
  hashTiles: LoadResult;
  /** Random full entry bundles. */
  bundles: LoadResult;
  audit: AuditDownload;
}

/** One line of a report. `rate` is a throughput, to divide by the baseline. */
export interface TileRow {
  figure: string;
  result: string;
  rate?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]']);

/** Fetches one resource of the log and returns its body, or throws unless the status is 200. */
async function fetchBytes(base: string, path: string): Promise<Uint8Array> {
  const host = new URL(base).hostname;
  if (!LOOPBACK.has(host))
    throw new Error(`tiles are read only from 127.0.0.1 or [::1], not ${host}`);
  const res = await fetch(`${base}/${path}`);
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET /${path} returned HTTP ${res.status}, expected 200`);
  return body;
}

/** Calls `fn` on every item with at most `limit` calls pending. */
async function forEachInFlight<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Lists the hash tiles of the tree of `size` leaves, level by level
 * (tlog-tiles "Partial Tiles"): level L contains floor(size / 256^L) hashes in
 * full tiles of 256 and one partial tile of the remainder, if any.
 */
export function tileLayout(size: number): TileId[][] {
  const levels: TileId[][] = [];
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    const hashes = Math.floor(size / TILE_WIDTH ** level);
    const count = Math.ceil(hashes / TILE_WIDTH);
    const tiles = Array.from({ length: count }, (_, index) => ({
      level,
      index,
      width: tileWidth(size, level, index),
    }));
    levels.push(tiles);
  }
  return levels;
}

/**
 * Sends random full tiles of one kind for `seconds` and returns the load
 * figures; `prefix` is 'tile/0/' or 'tile/entries/', which the tile index follows.
 */
function measureReads(
  options: TileBenchOptions,
  fullTiles: number,
  prefix: string,
): Promise<LoadResult> {
  const index = { integer: { of: 'random', below: fullTiles }, format: 'tile-index' } as const;
  return runLoad({
    url: options.url,
    serverPid: options.serverPid,
    concurrency: options.concurrency ?? TILE_CONCURRENCY,
    seconds: options.seconds,
    warmUpSeconds: options.warmUpSeconds,
    client: options.client,
    request: { method: 'GET', path: [`/${prefix}`, index] },
  });
}

/** Returns the root of the perfect tree over `count` hashes of `tile` from hash `first`. */
function perfectRoot(tile: Uint8Array, first: number, count: number): Uint8Array {
  let layer = Array.from({ length: count }, (_, i) =>
    tile.subarray((first + i) * HASH_SIZE, (first + i + 1) * HASH_SIZE),
  );
  while (layer.length > 1) {
    layer = Array.from({ length: layer.length / 2 }, (_, i) =>
      nodeHash(layer[2 * i]!, layer[2 * i + 1]!),
    );
  }
  return layer[0]!;
}

/** The hash tiles of one download, by level and index. */
type TileSet = Uint8Array[][];

/**
 * Checks that every hash of a level L >= 1 tile is the root of the full
 * level L - 1 tile below it (tlog-tiles "Merkle Tree").
 */
function checkUpperLevels(tiles: TileSet): void {
  for (let level = 1; level < tiles.length; level++) {
    tiles[level]!.forEach((tile, index) => {
      for (let k = 0; k < tile.length / HASH_SIZE; k++) {
        const below = index * TILE_WIDTH + k;
        const root = perfectRoot(tiles[level - 1]![below]!, 0, TILE_WIDTH);
        if (!bytesEqual(root, tile.subarray(k * HASH_SIZE, (k + 1) * HASH_SIZE))) {
          throw new Error(
            `hash ${k} of tile ${level}/${index} is not the root of tile ${level - 1}/${below}`,
          );
        }
      }
    });
  }
}

/**
 * Computes the RFC 9162 tree root of `size` leaves from the tiles alone:
 * each subtree of the compact range at tree level 8L + r is the perfect
 * root of 2^r consecutive hashes of one level-L tile.
 */
function rootFromTiles(size: number, tiles: TileSet): Uint8Array {
  const hashes = rangeNodes(size).map(({ level, index }) => {
    const tier = Math.floor(level / TILE_HEIGHT);
    const span = 2 ** (level % TILE_HEIGHT);
    const first = index * span;
    const tile = tiles[tier]![Math.floor(first / TILE_WIDTH)]!;
    return perfectRoot(tile, first % TILE_WIDTH, span);
  });
  return CompactRange.fromHashes(size, hashes).root();
}

/** Checks that the leaf hashes of a bundle's entries are the hashes of its level-0 tile. */
function checkBundle(bytes: Uint8Array, tile: TileId, level0: Uint8Array): void {
  const entries = decodeBundle(bytes, tile.width);
  entries.forEach((entry, i) => {
    if (!bytesEqual(leafHash(entry), level0.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
      const n = tile.index * TILE_WIDTH + i;
      throw new Error(`entry ${n} of bundle ${tile.index} does not hash to level-0 hash ${n}`);
    }
  });
}

/** Fetches every hash tile of the layout, checking each body's length against its width. */
async function downloadHashTiles(url: string, layout: TileId[][]) {
  const tiles: TileSet = layout.map(() => []);
  const levels = layout.map((list, level) => ({ level, tiles: list.length, bytes: 0 }));
  await forEachInFlight(layout.flat(), AUDIT_IN_FLIGHT, async (t) => {
    const body = await fetchBytes(url, tilePath(t));
    if (body.length !== t.width * HASH_SIZE) {
      throw new Error(`${tilePath(t)} is ${body.length} bytes, expected ${t.width * HASH_SIZE}`);
    }
    tiles[t.level]![t.index] = body;
    levels[t.level]!.bytes += body.length;
  });
  return { tiles, levels };
}

/** Fetches every entry bundle, checks it against the level-0 tiles and returns the bytes. */
async function downloadBundles(url: string, layout: TileId[][], tiles: TileSet) {
  let bytes = 0;
  await forEachInFlight(layout[0] ?? [], AUDIT_IN_FLIGHT, async (t) => {
    const body = await fetchBytes(url, entriesPath(t.index, t.width));
    checkBundle(body, t, tiles[0]![t.index]!);
    bytes += body.length;
  });
  return bytes;
}

/** Hash bytes of every tile of the tree of `size` leaves: floor(size / 256^L) hashes per level. */
export function hashTileBytes(size: number): number {
  let hashes = 0;
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    hashes += Math.floor(size / TILE_WIDTH ** level);
  }
  return hashes * HASH_SIZE;
}

/**
 * Downloads the whole log as a full audit does, checks every byte against
 * the signed checkpoint, and counts the response body bytes.
 */
export async function auditDownload(url: string, verifierKey: string): Promise<AuditDownload> {
  // TODO: count response headers too (an estimated 200 bytes each) if transfer sizes are wanted.
  const start = performance.now();
  const note = await fetchBytes(url, 'checkpoint');
  const { checkpoint } = openCheckpoint(note, newVerifier(verifierKey));
  const { size, root } = checkpoint;
  const layout = tileLayout(size);
  const { tiles, levels } = await downloadHashTiles(url, layout);
  const hashBytes = levels.reduce((sum, l) => sum + l.bytes, 0);
  if (hashBytes !== hashTileBytes(size)) {
    const want = hashTileBytes(size);
    throw new Error(`hash tiles contain ${hashBytes} bytes, the tree of ${size} implies ${want}`);
  }
  checkUpperLevels(tiles);
  if (!bytesEqual(rootFromTiles(size, tiles), root)) {
    throw new Error(`the tiles do not hash to the root of the checkpoint of size ${size}`);
  }
  const bundleBytes = await downloadBundles(url, layout, tiles);
  const totalBytes = note.length + hashBytes + bundleBytes;
  return {
    size,
    checkpointBytes: note.length,
    levels,
    hashTileBytes: hashBytes,
    bundles: layout[0]?.length ?? 0,
    bundleBytes,
    totalBytes,
    bytesPerEntry: totalBytes / size,
    seconds: (performance.now() - start) / 1000,
  };
}

/**
 * Measures the read rates of random full hash tiles and entry bundles, then
 * the full audit download, on the log served at `options.url`.
 *
 * @example
 * const figure = await benchTiles({ url, serverPid, verifierKey, seconds: 10, warmUpSeconds: 2 });
 * for (const row of tileRows(figure)) console.log(row.figure, row.result);
 */
export async function benchTiles(options: TileBenchOptions): Promise<TileFigure> {
  const { checkpoint } = openCheckpoint(
    await fetchBytes(options.url, 'checkpoint'),
    newVerifier(options.verifierKey),
  );
  const fullTiles = Math.floor(checkpoint.size / TILE_WIDTH);
  if (fullTiles === 0)
    throw new Error(
      `a log of ${checkpoint.size} entries has no full tile: use at least ${TILE_WIDTH}`,
    );
  const hashTiles = await measureReads(options, fullTiles, 'tile/0/');
  const bundles = await measureReads(options, fullTiles, 'tile/entries/');
  const audit = await auditDownload(options.url, options.verifierKey);
  return { concurrency: options.concurrency ?? TILE_CONCURRENCY, hashTiles, bundles, audit };
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Cores of the server and the load generator, the server's reads per core it used, and the client. */
function coresOf(load: LoadResult): string {
  const generator = `load generator ${load.clientCores.toFixed(2)}; client: ${load.client}`;
  if (load.serverCores === undefined) return `cores: ${generator}`;
  const perCore = count(load.requestsPerSecond / load.serverCores);
  return `cores: server ${load.serverCores.toFixed(2)} (${perCore} reads/s per core), ${generator}`;
}

/** Formats a read rate with the hashes or entries it delivers (256 a full tile) and latency. */
function readResult(load: LoadResult, bytesPerRead: number, unit: string): string {
  const { p50Ms, p99Ms, maxMs } = load.latency;
  const failed = load.failed === 0 ? 'all 200' : `${load.failed} not 200`;
  const items = count(load.requestsPerSecond * TILE_WIDTH);
  const throughput = mb(load.requestsPerSecond * bytesPerRead);
  return `${count(load.requestsPerSecond)} reads/s = ${items} ${unit}/s (${throughput}/s); p50 ${ms(p50Ms)} ms, p99 ${ms(p99Ms)} ms, max ${ms(maxMs)} ms; ${failed}; ${coresOf(load)}`;
}

function auditResult(a: AuditDownload): string {
  const perMillion = mb(a.bytesPerEntry * 1e6);
  const levels = a.levels.map((l) => `L${l.level} ${l.tiles}`).join(', ');
  return (
    `checkpoint ${a.checkpointBytes} B; hash tiles ${count(a.hashTileBytes)} B (${levels} tiles); ` +
    `bundles ${count(a.bundleBytes)} B (${count(a.bundles)}); total ${count(a.totalBytes)} B, ` +
    `${a.bytesPerEntry.toFixed(1)} B/entry, ${perMillion} per 1M entries; ` +
    `fetched and checked in ${a.seconds.toFixed(1)} s`
  );
}

/** Returns the report lines of a figure. The read rates carry `rate` for the baseline ratio. */
export function tileRows(f: TileFigure): TileRow[] {
  const a = f.audit;
  const millions = `${a.size / 1e6}M log`;
  const bundleSize = (a.bundleBytes / a.size) * TILE_WIDTH;
  return [
    {
      figure: `tile/0/<N>, random full, ${f.concurrency} in flight, ${millions}`,
      result: readResult(f.hashTiles, TILE_WIDTH * HASH_SIZE, 'hashes'),
      rate: f.hashTiles.requestsPerSecond,
    },
    {
      figure: `tile/entries/<N>, random full, ${f.concurrency} in flight, ${millions}`,
      result: readResult(f.bundles, bundleSize, 'entries'),
      rate: f.bundles.requestsPerSecond,
    },
    { figure: `full audit download, ${millions}`, result: auditResult(a) },
  ];
}

function machineLine(when: string): string {
  const m = machineInfo();
  const load = formatLoad(m.loadAverage);
  return `${when}: ${m.cpuModel}, ${m.cores} cores, node ${m.node}, load average ${load}`;
}

function parseOptions(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      entries: { type: 'string', default: '1000000' },
      seconds: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: String(TILE_CONCURRENCY) },
      client: { type: 'string' },
    },
  });
  const positive = (text: string, what: string) => {
    const n = parseDecimal(text, what);
    if (n === 0) throw new Error(`${what} ${text}: expected a positive integer`);
    return n;
  };
  return {
    entries: positive(values.entries, '--entries'),
    seconds: positive(values.seconds, '--seconds'),
    concurrency: positive(values.concurrency, '--concurrency'),
    client: parseClient(values.client),
  };
}

function printRows(rows: TileRow[], baseline: number): void {
  for (const row of rows) {
    const ratio = row.rate === undefined ? '' : ` [${(row.rate / baseline).toFixed(3)} x baseline]`;
    console.log(`${row.figure}: ${row.result}${ratio}`);
  }
}

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  cleanUpOnExit();
  console.log(machineLine('machine at start'));
  useNodeCrypto();
  const baseline = await benchTreeBuild(BASELINE_LEAVES);
  console.log(`tree build 1M (node:crypto): ${count(baseline.leavesPerSecond)} leaves/s`);
  const log = await buildBigLog(options.entries);
  console.log(`built ${count(options.entries)} entries in ${log.build.seconds.toFixed(1)} s`);
  const server = await startServerProcess(log.dataDir);
  try {
    const figure = await benchTiles({
      url: server.url,
      serverPid: server.pid,
      verifierKey: log.init.verifierKey,
      seconds: options.seconds,
      warmUpSeconds: 2,
      concurrency: options.concurrency,
      client: options.client,
    });
    printRows(tileRows(figure), baseline.leavesPerSecond);
  } finally {
    await server.stop();
    removeAll();
  }
  console.log(machineLine('machine at end'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
