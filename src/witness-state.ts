/**
 * A witness's durable state (c2sp.org/tlog-witness): per log origin, the
 * size and root of the latest checkpoint it cosigned, in its own SQLite
 * file. The state only moves by compare-and-swap, so two requests racing
 * on one origin (in one process or several) never both advance it from the
 * same size, and a cosignature is only returned after its state is durable.
 */
import Database from 'better-sqlite3';
import { StorageError } from './errors.js';
import type { Cosigner } from './cosignature.js';
import type { Verifier } from './note.js';
import {
  checkConsistent,
  cosignatureLines,
  openRequest,
  parseAddCheckpoint,
  type TreeHead,
} from './witness.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cosigned (
  origin TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  root BLOB NOT NULL
) STRICT`;

export class WitnessState {
  private readonly db: Database.Database;
  private readonly statements;

  /** Opens (or creates) the state database at `path`. */
  constructor(readonly path: string) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (cause) {
      throw new StorageError('storage_failed', `cannot open witness state ${path}: ${cause}`, {
        cause,
      });
    }
    this.statements = {
      get: this.db.prepare('SELECT size, root FROM cosigned WHERE origin = ?'),
      insert: this.db.prepare(
        'INSERT INTO cosigned (origin, size, root) VALUES (?, ?, ?) ON CONFLICT (origin) DO NOTHING',
      ),
      update: this.db.prepare(
        'UPDATE cosigned SET size = ?, root = ? WHERE origin = ? AND size = ? AND root = ?',
      ),
    };
  }

  /** The latest checkpoint cosigned for `origin`, or undefined if none was. */
  get(origin: string): TreeHead | undefined {
    const row = this.statements.get.get(origin) as { size: number; root: Buffer } | undefined;
    return row && { size: row.size, root: new Uint8Array(row.root) };
  }

  /**
   * Moves the state of `origin` from `expected` (undefined: no row) to
   * `next` in one statement, durably. Returns false, changing nothing, when
   * the stored state is no longer `expected`.
   */
  compareAndSwap(origin: string, expected: TreeHead | undefined, next: TreeHead): boolean {
    const result = expected
      ? this.statements.update.run(next.size, next.root, origin, expected.size, expected.root)
      : this.statements.insert.run(origin, next.size, next.root);
    return result.changes === 1;
  }

  close(): void {
    this.db.close();
  }
}

/** A witness: the logs it trusts by origin, its state and its cosigning key. */
export class Witness {
  private readonly logs = new Map<string, Verifier[]>();

  constructor(
    readonly state: WitnessState,
    readonly cosigner: Cosigner,
    logs: Verifier[],
  ) {
    for (const log of logs) this.logs.set(log.name, [...(this.logs.get(log.name) ?? []), log]);
  }

  /** Origins of the logs this witness cosigns. */
  get origins(): string[] {
    return [...this.logs.keys()];
  }

  /**
   * Handles one add-checkpoint body (c2sp.org/tlog-witness) and returns the
   * cosignature line. The new state is stored before this returns; a
   * request that lost a race re-checks against the state that won it.
   */
  addCheckpoint(body: string): string {
    const req = openRequest(parseAddCheckpoint(body), this.logs);
    const origin = req.checkpoint.origin;
    for (;;) {
      const state = this.state.get(origin);
      const next = checkConsistent(req, state);
      // COMMIT point: once the swap lands, this witness never cosigns a smaller tree of origin.
      if (this.state.compareAndSwap(origin, state, next)) break;
    }
    return cosignatureLines(req.text, [this.cosigner]);
  }
}
