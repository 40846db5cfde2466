/**
 * The storage interface behind the ledger. A store holds the entries, the
 * tree as tiles, every signed checkpoint, the validators' token hashes and
 * the search index. Every method is async so that a networked database can
 * implement it; the SQLite store answers from one local file.
 */

/** A stored tile: see tile-layout.ts for the byte layout of `data`. */
export interface StoredTile {
  level: number;
  index: number;
  /** Base hashes present, 1..256. */
  width: number;
  data: Uint8Array;
}

export interface CheckpointRecord {
  size: number;
  root: Uint8Array;
  /** The signed note, exactly as served at /checkpoint. */
  note: string;
  createdMs: number;
}

export interface EntryRecord {
  index: number;
  data: Uint8Array;
  validator: string;
  id: string;
}

/** Everything one group commit writes, in one transaction. */
export interface Batch {
  /** Tree size the batch extends. The commit fails if the stored size differs. */
  prevSize: number;
  entries: EntryRecord[];
  /** Tiles created or grown by the batch, with their new contents. */
  tiles: StoredTile[];
  checkpoint: CheckpointRecord;
  /**
   * Search index rows of the batch's entries, for a store that indexes right
   * after committing; stores that do not may ignore them.
   */
  indexRows?: IndexRow[];
}

/** One decision's searchable fields, kept beside the log. */
export interface IndexRow {
  index: number;
  leafHash: Uint8Array;
  time: number;
  decision: string;
  iss: string;
  aud: string;
  key_domain: string;
  kid: string;
  tenant: string | null;
  rp: string;
}

export const SEARCH_FIELDS = [
  'kid',
  'iss',
  'aud',
  'key_domain',
  'tenant',
  'rp',
  'decision',
] as const;
export type SearchField = (typeof SEARCH_FIELDS)[number];

export interface SearchQuery {
  equals: Partial<Record<SearchField, string>>;
  /** Decision time bounds in Unix milliseconds, inclusive. */
  since?: number;
  until?: number;
  /** Return entries with an index greater than this one (the previous page's cursor). */
  after?: number;
  limit: number;
}

export interface SearchPage {
  indexes: number[];
  /** The search covers entries [0, indexedSize). */
  indexedSize: number;
}

export interface Validator {
  name: string;
  tokenHash: Uint8Array;
}

export interface Store {
  readonly kind: string;
  /**
   * True when commits are applied in the order commitBatch was called, even
   * if the earlier ones have not finished, so the sequencer may send a batch
   * before the previous one is durable.
   */
  readonly orderedCommits?: boolean;

  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  /** Writes a batch atomically and durably, or throws and writes nothing. */
  commitBatch(batch: Batch): Promise<void>;
  latestCheckpoint(): Promise<CheckpointRecord | undefined>;
  /**
   * Returns the newest checkpoint if another connection may have committed
   * since the last call, else undefined. Synchronous and cheap, so that a
   * process reading a log that another one writes checks before each request.
   */
  pollCheckpoint?(): CheckpointRecord | undefined;
  checkpoint(size: number): Promise<CheckpointRecord | undefined>;
  /** Tiles by (level, index); missing ones are absent from the result. */
  readTiles(keys: { level: number; index: number }[]): Promise<StoredTile[]>;
  /** Entries [start, end) in index order. */
  readEntries(start: number, end: number): Promise<Uint8Array[]>;
  /** Indexes of already logged decisions of one validator, by decision ID. */
  findDecisionIds(validator: string, ids: string[]): Promise<Map<string, number>>;

  addValidator(validator: Validator): Promise<void>;
  validatorByTokenHash(tokenHash: Uint8Array): Promise<Validator | undefined>;
  listValidators(): Promise<string[]>;

  indexedSize(): Promise<number>;
  /** Adds index rows [indexedSize, newSize) and moves indexedSize, atomically. */
  addIndexRows(rows: IndexRow[], newSize: number): Promise<void>;
  search(query: SearchQuery): Promise<SearchPage>;
  /** The first index whose leaf hash is this one, among indexed entries. */
  indexOfLeafHash(leafHash: Uint8Array): Promise<number | undefined>;

  close(): Promise<void>;
}
