/** declog tiles export: writes the log as static c2sp.org/tlog-tiles files. */
import { openStore } from '../../src/data-dir.js';
import type { ExportProgress } from '../../src/tiles-export.js';
import { exportTiles } from '../../src/tiles-export.js';
import { note } from '../options.js';

export interface TilesExportOptions {
  data: string;
}

/** Prints progress to stderr at most every 500 ms, and once at the end. */
function progressPrinter(): (p: ExportProgress, final?: boolean) => void {
  let last = 0;
  return (p, final = false) => {
    const now = Date.now();
    if (!final && now - last < 500) return;
    last = now;
    note(`${p.written + p.skipped}/${p.total} files: ${p.written} written, ${p.skipped} present`);
  };
}

/** declog tiles export [--data DIR] OUT */
export async function tilesExport(out: string, opts: TilesExportOptions): Promise<void> {
  const store = openStore(opts.data);
  const print = progressPrinter();
  try {
    const result = await exportTiles(store, out, (p) => print(p));
    print(result, true);
    note(`exported the checkpoint of tree size ${result.size} to ${out}`);
  } finally {
    await store.close();
  }
}
