/**
 * A progress bar with entries per second on stderr, drawn only when stderr
 * is a terminal, at most ten times a second.
 */

const WIDTH = 30;

/** Returns an (done, total) callback that redraws the bar, and a function that ends it. */
export function progressBar(label: string): {
  update: (done: number, total: number) => void;
  end: () => void;
} {
  const tty = process.stderr.isTTY === true;
  let start = performance.now();
  let drawn = 0;
  let shown = false;
  const update = (done: number, total: number) => {
    const now = performance.now();
    if (done === 0) start = now;
    if (!tty || total === 0 || (now - drawn < 100 && done < total)) return;
    drawn = now;
    shown = true;
    const filled = Math.round((WIDTH * done) / total);
    const rate = Math.round((done * 1000) / Math.max(1, now - start));
    const bar = '#'.repeat(filled) + '-'.repeat(WIDTH - filled);
    process.stderr.write(`\r${label} [${bar}] ${done}/${total} entries, ${rate} entries/s\x1b[K`);
  };
  const end = () => {
    if (shown) process.stderr.write('\n');
    shown = false;
  };
  return { update, end };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
