/**
 * The durable spool as the SDK sees it: decisions written before record()
 * resolves, removed once their receipt is verified. The SQLite
 * implementation is in spool.ts, loaded only in Node.js.
 */

/** One spooled decision: its row number and its JSON text. */
export interface SpooledRow {
  seq: number;
  body: string;
}

export interface Spool {
  /**
   * Writes bodies durably in one transaction and returns their row numbers,
   * or undefined for each body that did not fit under the size bound.
   */
  add(bodies: string[]): (number | undefined)[];
  /** Removes rows whose receipts were verified. */
  remove(seqs: number[]): void;
  /** Every row still spooled, oldest first. */
  rows(): SpooledRow[];
  /** Number of rows spooled. */
  size(): number;
  close(): void;
}

/** Opens or creates the spool file at `path`, holding at most `maxEntries` rows. */
export type OpenSpool = (path: string, maxEntries: number) => Spool;
