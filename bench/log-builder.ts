/**
 * Builds a large log fast, in this process: Ledger.append in big batches on
 * a data folder, then waits for the search index to catch up, so a server
 * child can be started on the folder afterwards.
 */
import { decisionFromJSON, type Decision } from '../src/decision.js';
import { openDataDir } from '../src/data-dir.js';
import { decisionJSON } from './workload.js';

/** Entries per Ledger.append call while building. */
export const BUILD_BATCH = 5000;

/** The ID prefix of the decisions in a built log: entry n is decision `${LOG_PREFIX}-${n}`. */
export const LOG_PREFIX = 'log';

export interface BuildResult {
  entries: number;
  seconds: number;
  entriesPerSecond: number;
}

function decisions(first: number, count: number, validator: string): Decision[] {
  return Array.from({ length: count }, (_, i) =>
    decisionFromJSON(decisionJSON(LOG_PREFIX, first + i), validator),
  );
}

/**
 * Appends entries until the log of `dataDir` contains `size` of them, entry n
 * being decision n of LOG_PREFIX. `onProgress` gets the size after each batch.
 * The caller must have applied useNodeCrypto to hash as the server does.
 */
export async function growLog(
  dataDir: string,
  validator: string,
  size: number,
  onProgress?: (size: number) => void,
): Promise<BuildResult> {
  const ledger = await openDataDir(dataDir, { maxBatchEntries: BUILD_BATCH });
  const start = performance.now();
  let current = ledger.latestCheckpoint()?.size ?? 0;
  const from = current;
  try {
    while (current < size) {
      const count = Math.min(BUILD_BATCH, size - current);
      const { checkpoint } = await ledger.append(validator, decisions(current, count, validator));
      current = checkpoint.size;
      onProgress?.(current);
    }
    await ledger.indexed();
  } finally {
    await ledger.close();
  }
  const seconds = (performance.now() - start) / 1000;
  return { entries: current - from, seconds, entriesPerSecond: (current - from) / seconds };
}
