/**
 * Builds export bundles from a running log with the verifying client: every
 * checkpoint and proof is verified as it arrives, and the finished bundle is
 * verified offline once more before it is returned.
 */
import {
  toTlogProof,
  type DeclogClient,
  type DecisionQuery,
  type VerifiedCheckpoint,
} from '../client.js';
import { InputError } from '../errors.js';
import { newVerifier } from '../note.js';
import { verifyInclusion } from '../verify.js';
import {
  BUNDLE_TYPE,
  encodeBundle,
  verifyBundle,
  type Bundle,
  type BundleFilter,
} from './bundle.js';
import { streamEntries } from './entry-stream.js';
import type { LogFetcher } from './log-fetcher.js';
import { proofSide } from './range-proof.js';

/** Proof requests in flight while exporting a filter. */
const CONCURRENCY = 8;

/** Encodes `bundle` and checks it with the log key, as a responder's verifier will. */
function finish(bundle: Bundle, verifierKey: string): Uint8Array {
  const bytes = encodeBundle(bundle);
  verifyBundle(bytes, newVerifier(verifierKey));
  return bytes;
}

/**
 * Exports every entry of [start, end) with a completeness proof against the
 * latest checkpoint: the left-hand hashes of leaf start's inclusion path are
 * the compact range of [0, start), and the right-hand hashes of leaf
 * end - 1's path cover [end, size).
 */
export async function exportRange(
  client: DeclogClient,
  fetcher: LogFetcher,
  verifierKey: string,
  start: number,
  end: number,
): Promise<Uint8Array> {
  const cp = await client.checkpoint();
  if (!(start < end && end <= cp.size)) {
    throw new InputError(
      'index_out_of_range',
      `range ${start}..${end} must hold at least one entry and end at most at tree size ${cp.size}`,
    );
  }
  const size = cp.size;
  const leftProof = start > 0 ? (await client.inclusionProof(start, size)).inclusionProof : [];
  const rightProof = (await client.inclusionProof(end - 1, size)).inclusionProof;
  const entries: Bundle['entries'] = [];
  await streamEntries(fetcher, { from: start, to: end, size }, (first, list) => {
    list.forEach((entry, i) => entries.push({ index: first + i, entry, proof: null }));
  });
  const range = {
    start,
    end,
    left: start > 0 ? proofSide(start, size, leftProof, 'left').reverse() : [],
    right: proofSide(end - 1, size, rightProof, 'right'),
  };
  const bundle: Bundle = { type: BUNDLE_TYPE, checkpoint: cp.signed, filter: null, range, entries };
  return finish(bundle, verifierKey);
}

/** Exports every decision matching `query` that the latest checkpoint covers, each with its proof. */
export async function exportFilter(
  client: DeclogClient,
  fetcher: LogFetcher,
  verifierKey: string,
  query: DecisionQuery,
): Promise<Uint8Array> {
  const indexes: number[] = [];
  const q = { ...query };
  do {
    const page = await client.search(q);
    indexes.push(...page.decisions.map((d) => d.index));
    q.cursor = page.nextCursor;
  } while (q.cursor !== undefined);
  const cp = await client.checkpoint();
  const covered = indexes.filter((i) => i < cp.size);
  const entries: Bundle['entries'] = [];
  for (let i = 0; i < covered.length; i += CONCURRENCY) {
    const batch = covered.slice(i, i + CONCURRENCY);
    entries.push(...(await Promise.all(batch.map((index) => proved(client, fetcher, index, cp)))));
  }
  const bundle: Bundle = {
    type: BUNDLE_TYPE,
    checkpoint: cp.signed,
    filter: toFilter(query),
    range: null,
    entries,
  };
  return finish(bundle, verifierKey);
}

/**
 * Fetches entry `index` (checked against its leaf hash) and its inclusion
 * proof, verified against the checkpoint the client already verified.
 */
async function proved(
  client: DeclogClient,
  fetcher: LogFetcher,
  index: number,
  checkpoint: VerifiedCheckpoint,
) {
  const [{ entry, leafHash }, proof] = await Promise.all([
    client.entry(index),
    fetcher.inclusion(index, checkpoint.size),
  ]);
  verifyInclusion(leafHash, index, checkpoint.size, proof, checkpoint.root);
  return { index, entry, proof: toTlogProof({ index, inclusionProof: proof, checkpoint }) };
}

function toFilter(query: DecisionQuery): BundleFilter {
  const { limit: _limit, cursor: _cursor, ...rest } = query;
  return Object.fromEntries(
    Object.entries(rest).filter(([, v]) => v !== undefined),
  ) as BundleFilter;
}
