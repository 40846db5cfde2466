/** One-off HTTP reads of a benchmark's server, outside the measured load. */
import { openCheckpoint } from '../src/checkpoint.js';
import { newVerifier } from '../src/note.js';

/** Fetches /checkpoint and returns the tree size it signs, after verifying the signature. */
export async function signedTreeSize(url: string, verifierKey: string): Promise<number> {
  const res = await fetch(`${url}/checkpoint`);
  if (res.status !== 200) throw new Error(`GET ${url}/checkpoint returned ${res.status}`);
  const { checkpoint } = openCheckpoint(await res.text(), newVerifier(verifierKey));
  return checkpoint.size;
}

/** How long waitForTreeSize waits for the expected size. */
const TREE_SIZE_WAIT_MS = 10_000;

/**
 * Returns the signed tree size once it reaches `expected`, or the last size
 * read after TREE_SIZE_WAIT_MS: wrk exits with requests in flight, and the
 * server appends them after the run.
 */
export async function waitForTreeSize(
  url: string,
  verifierKey: string,
  expected: number,
): Promise<number> {
  const deadline = performance.now() + TREE_SIZE_WAIT_MS;
  for (;;) {
    const size = await signedTreeSize(url, verifierKey);
    if (size >= expected || performance.now() > deadline) return size;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
