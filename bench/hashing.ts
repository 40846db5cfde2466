/**
 * Baseline figure: the rate at which this machine builds an RFC 6962 tree in
 * memory with CompactRange and the SHA-256 that src/hash.ts is configured
 * with. The other benchmarks are divided by it, so that their results can be
 * compared across machines.
 *
 * Run: npm run build && node dist/bench/hashing.js [leaves] [--node-crypto]
 */
import { pathToFileURL } from 'node:url';
import { leafHash } from '../src/hash.js';
import { useNodeCrypto } from '../src/crypto-node.js';
import { CompactRange } from '../src/range.js';

/** Builds a tree of `leaves` distinct entries (i as 8 bytes, big-endian) and times it. */
export async function benchTreeBuild(
  leaves = 1_000_000,
): Promise<{ seconds: number; leavesPerSecond: number }> {
  if (!Number.isSafeInteger(leaves) || leaves < 1) {
    throw new RangeError(`leaf count ${leaves} is not a positive integer`);
  }
  const range = CompactRange.empty();
  const entry = new Uint8Array(8);
  const view = new DataView(entry.buffer);
  const start = process.hrtime.bigint();
  for (let i = 0; i < leaves; i++) {
    view.setUint32(0, Math.floor(i / 2 ** 32));
    view.setUint32(4, i % 2 ** 32);
    range.append(leafHash(entry));
  }
  range.root();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, leavesPerSecond: leaves / seconds };
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--node-crypto')) useNodeCrypto();
  const count = args.find((arg) => !arg.startsWith('--'));
  const leaves = count === undefined ? undefined : Number(count);
  const { seconds, leavesPerSecond } = await benchTreeBuild(leaves);
  const sha = args.includes('--node-crypto') ? 'node:crypto' : '@noble/hashes';
  console.log(
    `tree build (${sha}): ${Math.round(leavesPerSecond)} leaves/s, ${seconds.toFixed(2)} s`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
