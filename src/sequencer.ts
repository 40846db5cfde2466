/**
 * Group-commit sequencer. Appends queue; a batch takes whole requests, gives
 * their new entries the next indexes, hashes them into the tree, and writes
 * entries, tiles and a newly signed checkpoint in one store transaction.
 * Only then is every waiter of the batch answered, so an answered append is
 * durable and covered by a signed checkpoint.
 */
import type { Logger } from 'pino';
import { formatCheckpoint } from './checkpoint.js';
import { type Decision, encodeDecision } from './decision.js';
import { bytesEqual } from './encoding.js';
import { DeclogError, StorageError } from './errors.js';
import { leafHash } from './hash.js';
import { indexRow } from './indexer.js';
import { type Signer, signNote } from './note.js';
import { CompactRange, rangeNodes } from './range.js';
import type { CheckpointRecord, EntryRecord, IndexRow, Store, StoredTile } from './store/store.js';
import { STORED_TILE_BYTES, TILE_HEIGHT, TILE_WIDTH, locateNode } from './store/tile-layout.js';
import type { TileReader } from './store/tile-reader.js';

export interface SequencerOptions {
  /** Maximum entries in one batch (default 1000). A single larger request is taken alone. */
  maxBatchEntries?: number;
  /** Maximum time an append waits for others to join its batch, in ms (default 0: next turn of the event loop). */
  maxWaitMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** The index and leaf hash of one submitted decision. */
export interface Sequenced {
  index: number;
  leafHash: Uint8Array;
  /** True when the decision's (validator, id) was already logged and nothing was appended. */
  duplicate: boolean;
}

export interface SequencedBatch {
  checkpoint: CheckpointRecord;
  entries: Sequenced[];
}

interface Pending {
  validator: string;
  decisions: Decision[];
  entries: Uint8Array[];
  resolve: (result: SequencedBatch) => void;
  reject: (error: unknown) => void;
}

/** Tree state at the last committed checkpoint. */
interface TreeState {
  range: CompactRange;
  /** Newest tile of each tile level, as committed. */
  edges: Map<number, StoredTile>;
  checkpoint: CheckpointRecord | undefined;
}

export class Sequencer {
  private readonly queue: Pending[] = [];
  private queuedEntries = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private flushing = false;
  private state: TreeState | undefined;
  /** The newest checkpoint known committed, kept for readers while the state is reloaded. */
  private lastCommitted: CheckpointRecord | undefined;
  private closed = false;
  private readonly maxBatchEntries: number;
  private readonly maxWaitMs: number;
  private readonly now: () => number;
  /** Called after each commit with the index rows of its new entries. */
  onCommit: ((rows: IndexRow[], size: number) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly tiles: TileReader,
    private readonly signer: Signer,
    private readonly origin: string,
    private readonly options: SequencerOptions = {},
  ) {
    this.maxBatchEntries = options.maxBatchEntries ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? 0;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.maxBatchEntries) || this.maxBatchEntries < 1) {
      throw new RangeError(
        `maxBatchEntries must be a positive integer, got ${this.maxBatchEntries}`,
      );
    }
    if (!(this.maxWaitMs >= 0)) {
      throw new RangeError(`maxWaitMs must be a non-negative number, got ${this.maxWaitMs}`);
    }
  }

  /** The newest committed checkpoint, or undefined before the first commit. */
  get checkpoint(): CheckpointRecord | undefined {
    return this.state?.checkpoint ?? this.lastCommitted;
  }

  /**
   * Loads the tree state from the store: the compact range and the newest
   * tile of each level. A new log gets its signed checkpoint of size 0.
   */
  async load(): Promise<void> {
    const checkpoint = await this.store.latestCheckpoint();
    const size = checkpoint?.size ?? 0;
    const range = CompactRange.fromHashes(size, await this.tiles.readNodes(rangeNodes(size)));
    if (checkpoint && !bytesEqual(range.root(), checkpoint.root)) {
      throw new StorageError(
        'corrupt_store',
        `stored tiles give a root for size ${size} that differs from the signed checkpoint`,
      );
    }
    const edges = new Map<number, StoredTile>();
    for (let level = 0, count = size; count > 0; level++, count = Math.floor(count / TILE_WIDTH)) {
      const index = Math.floor(count / TILE_WIDTH);
      if (count % TILE_WIDTH === 0) continue;
      const [tile] = await this.store.readTiles([{ level, index }]);
      if (!tile) {
        throw new StorageError(
          'corrupt_store',
          `tile ${level}/${index} is missing for size ${size}`,
        );
      }
      edges.set(level, tile);
    }
    this.state = { range, edges, checkpoint };
    this.lastCommitted = checkpoint;
    this.tiles.remember(edges.values());
    if (checkpoint) return;
    try {
      await this.commit([]);
    } catch (err) {
      // Another process signed the first checkpoint at the same moment: continue from it.
      if (!(await this.store.latestCheckpoint())) throw err;
      await this.load();
    }
  }

  /**
   * Queues the decisions of one request and resolves once they are committed
   * under a signed checkpoint. The request is all or nothing. `encoded`, when
   * given, contains encodeDecision(decisions[i]) for each i.
   */
  append(
    validator: string,
    decisions: Decision[],
    encoded?: Uint8Array[],
  ): Promise<SequencedBatch> {
    if (this.closed) {
      return Promise.reject(new StorageError('storage_failed', 'the sequencer is closed'));
    }
    // Encoding validates every decision before anything is queued. Callers that
    // validated with submittedFromJSON pass the entries it already encoded.
    const entries = encoded ?? decisions.map(encodeDecision);
    if (entries.length !== decisions.length) {
      throw new RangeError(`${decisions.length} decisions came with ${entries.length} entries`);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ validator, decisions, entries, resolve, reject });
      this.queuedEntries += entries.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.queue.length === 0) return;
    if (this.queuedEntries >= this.maxBatchEntries || this.maxWaitMs === 0) {
      if (this.timer) return;
      this.timer = setImmediate(() => this.runFlush());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.runFlush(), this.maxWaitMs);
    }
  }

  private runFlush(): void {
    this.timer = undefined;
    this.flushing = true;
    this.flush()
      .catch((err) => this.options.logger?.error({ err }, 'sequencer flush failed'))
      .finally(() => {
        this.flushing = false;
        this.schedule();
      });
  }

  /** Takes whole requests from the queue, up to the batch limit (at least one request). */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let count = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (batch.length > 0 && count + next.entries.length > this.maxBatchEntries) break;
      batch.push(this.queue.shift()!);
      count += next.entries.length;
    }
    this.queuedEntries -= count;
    return batch;
  }

  private async flush(): Promise<void> {
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    const started = this.now();
    try {
      if (!this.state) await this.load();
      const result = await this.commit(batch);
      this.options.logger?.info(
        {
          tree_size: result.checkpoint.size,
          entries: result.appended,
          requests: batch.length,
          elapsed_ms: this.now() - started,
        },
        'sequenced batch',
      );
    } catch (err) {
      // Batch-only failure: every waiter of this batch gets the error. The
      // commit may or may not have landed, so the tree state is reloaded
      // from the store before the next batch; retries are idempotent.
      this.state = undefined;
      this.tiles.forgetEdges();
      this.options.logger?.error({ err, requests: batch.length }, 'batch failed');
      const error =
        err instanceof DeclogError
          ? err
          : new StorageError('storage_failed', `sequencing failed: ${String(err)}`, { cause: err });
      for (const p of batch) p.reject(error);
      // Reload now, so that readers see what the store contains rather than wait for the next append.
      await this.load().catch((reloadErr: unknown) =>
        this.options.logger?.error({ err: reloadErr }, 'reloading the tree state failed'),
      );
    }
  }

  private async commit(
    batch: Pending[],
  ): Promise<{ checkpoint: CheckpointRecord; appended: number }> {
    const state = this.state!;
    const prevSize = state.range.size;

    // Step 1: find decisions that are already logged, in the store or earlier in this batch.
    const placements = await this.place(batch);

    // Step 2: hash the new entries into a copy of the tree and its edge tiles.
    const range = state.range.clone();
    const touched = new Map<string, StoredTile>();
    const entries: EntryRecord[] = [];
    const rows: IndexRow[] = [];
    for (const [i, p] of batch.entries()) {
      for (const [j, placed] of placements[i]!.entries()) {
        if (placed.duplicate) continue;
        const data = p.entries[j]!;
        const decision = p.decisions[j]!;
        entries.push({ index: placed.index, data, validator: p.validator, id: decision.id });
        range.append(placed.leafHash, (level, index, hash) =>
          this.writeNode(state, touched, level, index, hash),
        );
        rows.push(indexRow(placed.index, placed.leafHash, decision));
      }
    }

    // Step 3: sign the new checkpoint. An empty batch (all duplicates) reuses the current one.
    let checkpoint = state.checkpoint;
    if (entries.length > 0 || !checkpoint) {
      const root = range.root();
      const text = formatCheckpoint({
        origin: this.origin,
        size: range.size,
        root,
        extensions: [],
      });
      checkpoint = {
        size: range.size,
        root,
        note: signNote(text, [this.signer]),
        createdMs: this.now(),
      };
      const tiles = [...touched.values()];

      // COMMIT point: entries, tiles and checkpoint become durable together. If
      // this throws, nothing of the batch is visible and the old state remains.
      await this.store.commitBatch({ prevSize, entries, tiles, checkpoint, indexRows: rows });

      const edges = new Map(state.edges);
      for (const tile of tiles) {
        const edge = edges.get(tile.level);
        if (!edge || edge.index <= tile.index) edges.set(tile.level, tile);
      }
      this.state = { range, edges, checkpoint };
      this.lastCommitted = checkpoint;
      this.tiles.remember(tiles);
    }

    for (const [i, p] of batch.entries()) p.resolve({ checkpoint, entries: placements[i]! });
    if (rows.length > 0) this.onCommit?.(rows, checkpoint.size);
    return { checkpoint, appended: entries.length };
  }

  /** Assigns each decision of the batch its index: a new one, or the one it already has. */
  private async place(batch: Pending[]): Promise<Sequenced[][]> {
    let next = this.state!.range.size;
    const seen = new Map<string, Sequenced>();
    const out: Sequenced[][] = [];
    for (const p of batch) {
      const ids = p.decisions.map((d) => d.id);
      const stored = await this.store.findDecisionIds(p.validator, ids);
      const placed: Sequenced[] = [];
      for (const [j, id] of ids.entries()) {
        const key = `${p.validator}\n${id}`;
        const earlier = seen.get(key);
        const storedIndex = stored.get(id);
        if (earlier) {
          placed.push({ ...earlier, duplicate: true });
        } else if (storedIndex !== undefined) {
          const [data] = await this.store.readEntries(storedIndex, storedIndex + 1);
          const existing = { index: storedIndex, leafHash: leafHash(data!), duplicate: true };
          seen.set(key, existing);
          placed.push(existing);
        } else {
          const fresh = { index: next++, leafHash: leafHash(p.entries[j]!), duplicate: false };
          seen.set(key, fresh);
          placed.push(fresh);
        }
      }
      out.push(placed);
    }
    return out;
  }

  /** Writes one tree node into its tile, copying the committed tile on first write. */
  private writeNode(
    state: TreeState,
    touched: Map<string, StoredTile>,
    level: number,
    index: number,
    hash: Uint8Array,
  ): void {
    const loc = locateNode(level, index);
    const key = `${loc.tileLevel}/${loc.tileIndex}`;
    let tile = touched.get(key);
    if (!tile) {
      const edge = state.edges.get(loc.tileLevel);
      const data = new Uint8Array(STORED_TILE_BYTES);
      let width = 0;
      if (edge && edge.index === loc.tileIndex) {
        data.set(edge.data);
        width = edge.width;
      }
      tile = { level: loc.tileLevel, index: loc.tileIndex, width, data };
      touched.set(key, tile);
    }
    tile.data.set(hash, loc.offset);
    if (level % TILE_HEIGHT === 0) tile.width = Math.max(tile.width, loc.minWidth);
  }

  /** Rejects queued appends that have not started; a batch in progress finishes. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    while (this.flushing) await new Promise((r) => setTimeout(r, 5));
    const error = new StorageError('storage_failed', 'the ledger is shutting down; retry later');
    for (const p of this.queue.splice(0)) p.reject(error);
    this.queuedEntries = 0;
  }
}
