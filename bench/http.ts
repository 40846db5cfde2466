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
