/**
 * The ledger: a store, the group-commit sequencer, the search indexer and
 * the log's signing key, behind the operations the server and the CLI use.
 * Proofs are only computed for sizes that a stored signed checkpoint covers.
 */
import type { Logger } from 'pino';
import type { Decision } from './decision.js';
import { AuthError, InputError, NotFoundError } from './errors.js';
import { toHex } from './encoding.js';
import { leafHash } from './hash.js';
import { Indexer, type SearchIndexer } from './indexer.js';
import { NotSequencerError } from './leadership.js';
import type { Signer } from './note.js';
import { consistencyNodes, type EphemeralNode, foldRight, inclusionPlan, rehash } from './proof.js';
import { Sequencer, type SequencerOptions, type Sequenced } from './sequencer.js';
import type {
  CheckpointRecord,
  SearchPage,
  SearchQuery,
  Store,
  StoredTile,
} from './store/store.js';
import { TileReader } from './store/tile-reader.js';
import { generateToken, hashToken, tokenHashesEqual, VALIDATOR_NAME } from './tokens.js';

export interface LedgerOptions extends SequencerOptions {
  /** Full tiles kept in memory for proofs (default 4096, about 64 MiB). */
  tileCacheSize?: number;
  /** Builds the search indexer (default: one that runs on this thread). */
  indexer?: (store: Store, logger?: Logger) => SearchIndexer;
  /** Open without sequencing, following the store, until lead() is called (default false). */
  follow?: boolean;
}

/** While following, the newest checkpoint is read from the store at most this often, in ms. */
const FOLLOW_REFRESH_MS = 100;

/** State of a ledger that another process sequences. */
interface Following {
  checkpoint: CheckpointRecord | undefined;
  /** Where the sequencer accepts appends, if known. */
  leaderUrl: string | undefined;
  readMs: number;
}

export interface Receipt extends Sequenced {
  inclusionProof: Uint8Array[];
}

export interface AppendResult {
  checkpoint: CheckpointRecord;
  entries: Receipt[];
}

export interface EntryWithHash {
  index: number;
  data: Uint8Array;
  leafHash: Uint8Array;
}

/** How long an authenticated token is remembered, in ms: a new token works at once, and
 * this bounds how long a token deleted from the store directly keeps working. */
const VALIDATOR_CACHE_MS = 10_000;
const MAX_CACHED_VALIDATORS = 1024;

export class Ledger {
  private readonly tiles: TileReader;
  private sequencer: Sequencer;
  private readonly indexer: SearchIndexer;
  private following: Following | undefined;
  /** Ephemeral nodes of proofs in the tree of one size, by the level at which they are siblings. */
  private ephemerals = { size: -1, byLevel: new Map<number, Uint8Array>() };
  /** Validators by token hash (hex), so that appends do not query the store for each request. */
  private readonly validators = new Map<string, { name: string; expires: number }>();
  /**
   * The newest checkpoint pollStore read while sequencing. A commit of the
   * writer thread reaches other processes a moment before the sequencer publishes it.
   */
  private polled: CheckpointRecord | undefined;

  private constructor(
    readonly store: Store,
    readonly origin: string,
    readonly verifierKey: string,
    private readonly signer: Signer,
    private readonly options: LedgerOptions,
    private readonly logger?: Logger,
  ) {
    this.tiles = new TileReader(store, options.tileCacheSize);
    this.indexer = options.indexer?.(store, logger) ?? new Indexer(store, logger);
    this.sequencer = this.newSequencer();
  }

  private newSequencer(): Sequencer {
    const { store, tiles, signer, origin, options } = this;
    const sequencer = new Sequencer(store, tiles, signer, origin, {
      ...options,
      indexRows: this.indexer.wantsRows,
    });
    sequencer.onCommit = (rows, size) => this.indexer.add(rows, size);
    return sequencer;
  }

  /** Opens a ledger on a store, loading the tree state; the search index catches up in the background. */
  static async open(
    store: Store,
    signer: Signer,
    verifierKey: string,
    options: LedgerOptions = {},
  ): Promise<Ledger> {
    const ledger = new Ledger(store, signer.name, verifierKey, signer, options, options.logger);
    if (options.follow) {
      ledger.following = { checkpoint: undefined, leaderUrl: undefined, readMs: 0 };
      await ledger.refresh(true);
      return ledger;
    }
    await ledger.sequencer.load();
    // The index catches up in the background: a new or cleared one is rebuilt
    // from the whole log, and search results report the size it covers.
    ledger.indexer
      .catchUp(ledger.sequencer.checkpoint?.size ?? 0)
      .catch((err) => options.logger?.error({ err }, 'search indexing failed'));
    return ledger;
  }

  /** The newest signed checkpoint, or undefined for a log with no entries yet. */
  latestCheckpoint(): CheckpointRecord | undefined {
    const f = this.following;
    if (f) return f.checkpoint;
    const own = this.sequencer.checkpoint;
    const polled = this.polled;
    return polled && (!own || polled.size > own.size) ? polled : own;
  }

  /**
   * Reads the store's newest checkpoint if another connection has committed
   * since the last poll (SQLite only). Processes that serve one log file call
   * this as each request arrives, so that none shows an older checkpoint than
   * one committed before the request arrived.
   */
  pollStore(): void {
    const polled = this.store.pollCheckpoint?.();
    if (!polled) return;
    const f = this.following;
    if (f) {
      if (polled.size >= (f.checkpoint?.size ?? 0)) f.checkpoint = polled;
    } else if (polled.size > (this.polled?.size ?? 0)) {
      this.polled = polled;
    }
  }

  /** Whether this ledger sequences appends, rather than following another process. */
  get sequencing(): boolean {
    return this.following === undefined;
  }

  /**
   * Stops sequencing: queued appends are rejected, later ones get a
   * NotSequencerError naming `leaderUrl`, and the checkpoint follows the store.
   */
  async follow(leaderUrl?: string): Promise<void> {
    if (this.following) {
      this.following.leaderUrl = leaderUrl;
      return;
    }
    const checkpoint = this.latestCheckpoint();
    this.following = { checkpoint, leaderUrl, readMs: 0 };
    this.polled = undefined;
    await this.sequencer.close();
    this.tiles.forgetEdges();
  }

  /** Starts sequencing, continuing from the newest checkpoint committed in the store. */
  async lead(): Promise<void> {
    if (!this.following) return;
    const sequencer = this.newSequencer();
    await sequencer.load();
    this.sequencer = sequencer;
    this.following = undefined;
    this.indexer
      .catchUp(sequencer.checkpoint?.size ?? 0)
      .catch((err) => this.logger?.error({ err }, 'search indexing failed'));
  }

  /** While following, reads the newest checkpoint from the store (at most every 100 ms unless forced). */
  async refresh(force = false): Promise<void> {
    const f = this.following;
    if (!f || (!force && Date.now() - f.readMs < FOLLOW_REFRESH_MS)) return;
    f.readMs = Date.now();
    const latest = await this.store.latestCheckpoint();
    if (latest && latest.size >= (f.checkpoint?.size ?? 0)) f.checkpoint = latest;
  }

  /**
   * Appends one request's decisions and returns a receipt for each, proved
   * against one checkpoint. `encoded` optionally contains their entries.
   */
  async append(
    validator: string,
    decisions: Decision[],
    encoded?: Uint8Array[],
  ): Promise<AppendResult> {
    if (this.following) throw new NotSequencerError(this.following.leaderUrl);
    const { checkpoint, entries } = await this.sequencer.append(validator, decisions, encoded);
    const proofs = await this.inclusionProofs(
      entries.map((e) => e.index),
      checkpoint.size,
    );
    return {
      checkpoint,
      entries: entries.map((entry, i) => ({
        index: entry.index,
        leafHash: entry.leafHash,
        duplicate: entry.duplicate,
        inclusionProof: proofs[i]!,
      })),
    };
  }

  /**
   * Builds the inclusion proofs of several entries in one tree. The proofs of
   * neighbouring entries share most nodes and the same right-edge
   * (ephemeral) nodes, so each node is read and each ephemeral node hashed once.
   */
  private async inclusionProofs(indexes: number[], size: number): Promise<Uint8Array[][]> {
    const plan = inclusionPlan(indexes, size);
    const read = await this.tiles.readNodes(plan.ids);
    const ephemerals = plan.ephemerals.map((node) => this.ephemeral(size, node, read));
    return plan.proofs.map((proof) => proof.map((p) => (p >= 0 ? read[p]! : ephemerals[-1 - p]!)));
  }

  /**
   * Returns the hash of an ephemeral node of proofs in the tree of `size`
   * leaves, folding the hashes of its nodes in `read` only when no earlier
   * proof in a tree of this size needed the same one.
   */
  private ephemeral(size: number, node: EphemeralNode, read: Uint8Array[]): Uint8Array {
    if (this.ephemerals.size !== size) this.ephemerals = { size, byLevel: new Map() };
    let hash = this.ephemerals.byLevel.get(node.level);
    if (!hash) {
      hash = foldRight(read.slice(node.begin, node.end));
      this.ephemerals.byLevel.set(node.level, hash);
    }
    return hash;
  }

  /** Returns the signed checkpoint of exactly this size, or throws NotFoundError. */
  async checkpointAt(size: number): Promise<CheckpointRecord> {
    if (size > this.latestSize()) await this.refresh(true);
    const latest = this.latestCheckpoint();
    if (!latest || size > latest.size) {
      throw new InputError(
        'size_out_of_range',
        `tree size ${size} is past the latest checkpoint (size ${latest?.size ?? 0})`,
      );
    }
    if (size === latest.size) return latest;
    const found = await this.store.checkpoint(size);
    if (!found) {
      throw new NotFoundError(
        'checkpoint_not_found',
        `the log signed no checkpoint of size ${size}; use the size of a published checkpoint`,
      );
    }
    return found;
  }

  /** Returns the inclusion proof of an entry in the checkpoint of `size` (default: the latest). */
  async inclusionProof(
    index: number,
    size?: number,
  ): Promise<{ checkpoint: CheckpointRecord; proof: Uint8Array[] }> {
    const checkpoint = await this.checkpointAt(size ?? this.latestSize());
    if (index >= checkpoint.size) {
      throw new InputError(
        'index_out_of_range',
        `index ${index} is not below tree size ${checkpoint.size}`,
      );
    }
    const [proof] = await this.inclusionProofs([index], checkpoint.size);
    return { checkpoint, proof: proof! };
  }

  /** Finds the first entry with this leaf hash among indexed entries. */
  async indexOfLeafHash(hash: Uint8Array): Promise<number> {
    const index = await this.store.indexOfLeafHash(hash);
    if (index === undefined) {
      // The index may lag the log, as after a restart that rebuilds it, so the message gives its size.
      const indexed = await this.indexedSize();
      const size = this.latestSize();
      throw new NotFoundError(
        'entry_not_found',
        indexed >= size
          ? `no entry of the ${size} in the log has this leaf hash`
          : `no indexed entry has this leaf hash: the search index covers ${indexed} of the ${size} entries, retry once it catches up`,
      );
    }
    return index;
  }

  /** Returns the consistency proof between two checkpoints (`newSize` default: the latest). */
  async consistencyProof(
    oldSize: number,
    newSize?: number,
  ): Promise<{
    oldCheckpoint: CheckpointRecord;
    checkpoint: CheckpointRecord;
    proof: Uint8Array[];
  }> {
    if (oldSize === 0) {
      throw new InputError(
        'size_out_of_range',
        'old tree size 0 proves nothing: trust a first checkpoint on its signature alone',
      );
    }
    const target = newSize ?? this.latestSize();
    if (oldSize > target) {
      throw new InputError(
        'size_out_of_range',
        `old tree size ${oldSize} is larger than new tree size ${target}`,
      );
    }
    const checkpoint = await this.checkpointAt(target);
    const oldCheckpoint = await this.checkpointAt(oldSize);
    const nodes = consistencyNodes(oldSize, checkpoint.size);
    const proof = rehash(nodes, await this.tiles.readNodes(nodes.ids));
    return { oldCheckpoint, checkpoint, proof };
  }

  /** Returns one entry's exact bytes and leaf hash. */
  async entry(index: number): Promise<EntryWithHash> {
    if (index >= this.latestSize()) await this.refresh(true);
    const size = this.latestSize();
    if (index >= size) {
      throw new InputError('index_out_of_range', `index ${index} is not below tree size ${size}`);
    }
    const [data] = await this.store.readEntries(index, index + 1);
    if (!data) throw new NotFoundError('entry_not_found', `entry ${index} is missing`);
    return { index, data, leafHash: leafHash(data) };
  }

  /** Returns the entries [start, end), which must lie below the latest checkpoint. */
  async entries(start: number, end: number): Promise<Uint8Array[]> {
    return this.store.readEntries(start, Math.min(end, this.latestSize()));
  }

  /**
   * Returns the stored tile (newest version) at a tile level and index, if it
   * exists. `minWidth` is the width the latest checkpoint needs, which can be
   * past the sequencer's own when pollStore read a newer commit.
   */
  async tile(level: number, index: number, minWidth = 1): Promise<StoredTile | undefined> {
    const found = await this.tiles.readTiles([{ level, index }], minWidth);
    return found.get(`${level}/${index}`);
  }

  /**
   * Searches the index. The page reports up to which tree size it covers,
   * never past the latest checkpoint this process has read: a process that
   * follows the log may read an index filled by the sequencing process past
   * it, and entries past it cannot be read or proved here yet.
   */
  async search(query: SearchQuery): Promise<SearchPage> {
    await this.refresh();
    const page = await this.store.search(query);
    const size = this.latestSize();
    if (page.indexedSize <= size) return page;
    return { indexes: page.indexes.filter((index) => index < size), indexedSize: size };
  }

  /** Returns up to which tree size the search index covers, at most the latest checkpoint's. */
  async indexedSize(): Promise<number> {
    await this.refresh();
    return Math.min(await this.store.indexedSize(), this.latestSize());
  }

  /** Resolves once the search index has caught up with every commit so far. */
  async indexed(): Promise<void> {
    await this.indexer.idle();
  }

  /** Returns the validator that a bearer token belongs to, or throws AuthError. */
  async authenticate(token: string): Promise<string> {
    const hash = hashToken(token);
    const key = toHex(hash);
    const cached = this.validators.get(key);
    if (cached && cached.expires > Date.now()) return cached.name;
    const validator = await this.store.validatorByTokenHash(hash);
    if (!validator || !tokenHashesEqual(validator.tokenHash, hash)) {
      throw new AuthError('invalid_token', 'the bearer token is not one of this ledger');
    }
    if (this.validators.size >= MAX_CACHED_VALIDATORS) this.validators.clear();
    this.validators.set(key, { name: validator.name, expires: Date.now() + VALIDATOR_CACHE_MS });
    return validator.name;
  }

  /** Creates a validator and returns its token, which is not stored and cannot be shown again. */
  async addValidator(name: string): Promise<string> {
    return addValidator(this.store, name);
  }

  /** Stops accepting appends, finishes the batch in progress, stops indexing and closes the store. */
  async close(): Promise<void> {
    await this.sequencer.close();
    await this.indexer.close();
    await this.store.close();
  }

  private latestSize(): number {
    return this.latestCheckpoint()?.size ?? 0;
  }

  /**
   * Returns an entry's leaf hash, the tree node at level 0 and `index`,
   * from the tiles rather than from the entry's bytes. The index must be
   * below the latest checkpoint's size, as for entry().
   */
  async leafHashAt(index: number): Promise<Uint8Array> {
    if (index >= this.latestSize()) await this.refresh(true);
    const size = this.latestSize();
    if (index >= size) {
      throw new InputError('index_out_of_range', `index ${index} is not below tree size ${size}`);
    }
    const [hash] = await this.tiles.readNodes([{ level: 0, index }]);
    return hash!;
  }
}

/** Creates a validator in a store and returns its new token. */
export async function addValidator(store: Store, name: string): Promise<string> {
  if (!VALIDATOR_NAME.test(name)) {
    throw new InputError(
      'invalid_argument',
      `invalid validator name ${JSON.stringify(name)}: use 1 to 128 letters, digits and . _ : @ -, starting with a letter or digit`,
    );
  }
  if ((await store.listValidators()).includes(name)) {
    throw new InputError('invalid_argument', `validator ${name} already exists`);
  }
  const token = generateToken();
  await store.addValidator({ name, tokenHash: hashToken(token) });
  return token;
}
