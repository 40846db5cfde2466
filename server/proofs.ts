/**
 * Proof endpoints: RFC 9162 inclusion (section 2.1.3) and consistency
 * (section 2.1.4) proofs, each with the signed checkpoints it is against.
 * Sizes must be those of published checkpoints, and the default is the latest.
 */
import type { Hono } from 'hono';
import { fromHex, toHex } from '../src/encoding.js';
import { InputError } from '../src/errors.js';
import { HASH_SIZE } from '../src/hash.js';
import type { Ledger } from '../src/ledger.js';
import type { AppEnv } from './env.js';
import { hexEach, jsonParts, plainStringArray } from './json-text.js';
import { type Query, decimalParam, readQuery } from './query.js';
import type { WitnessPublisher } from '../src/witness-publisher.js';
import { presentNote, publishedSize } from './witnessing.js';

/** Parses the leaf_hash parameter: 32 bytes as 64 hex digits. */
function leafHashParam(query: Query): Uint8Array | undefined {
  const text = query.get('leaf_hash');
  if (text === undefined) return undefined;
  const hash = fromHex(text, 'query parameter leaf_hash');
  if (hash.length !== HASH_SIZE) {
    throw new InputError(
      'invalid_hex',
      `query parameter leaf_hash has ${hash.length} bytes, expected ${HASH_SIZE} (64 hex digits)`,
    );
  }
  return hash;
}

/** Returns the index the query names, by `index` or by `leaf_hash` (exactly one of them). */
async function entryIndex(ledger: Ledger, query: Query): Promise<number> {
  const index = decimalParam(query, 'index');
  const hash = leafHashParam(query);
  if ((index === undefined) === (hash === undefined)) {
    throw new InputError(
      'invalid_argument',
      'give exactly one of the query parameters index and leaf_hash',
    );
  }
  return index ?? ledger.indexOfLeafHash(hash!);
}

/**
 * Registers GET /v1/proof/inclusion and GET /v1/proof/consistency on the app.
 * With a publisher, the default size is the witnessed checkpoint's, whose
 * note then carries the cosignatures.
 */
export function registerProofs(
  app: Hono<AppEnv>,
  ledger: Ledger,
  publisher?: WitnessPublisher,
): void {
  app.get('/v1/proof/inclusion', async (c) => {
    const query = readQuery(c, ['index', 'leaf_hash', 'tree_size']);
    const size = decimalParam(query, 'tree_size');
    const index = await entryIndex(ledger, query);
    const { checkpoint, proof } = await ledger.inclusionProof(
      index,
      size ?? publishedSize(publisher),
    );
    const [leaf, ...nodes] = hexEach([await ledger.leafHashAt(index), ...proof]);
    // The same text as JSON.stringify of {index, tree_size, leaf_hash, inclusion_proof, checkpoint}.
    return jsonParts(c, [
      `{"index":${index},"tree_size":${checkpoint.size},"leaf_hash":"${leaf}",` +
        `"inclusion_proof":${plainStringArray(nodes)},"checkpoint":`,
      JSON.stringify(presentNote(checkpoint, publisher)),
      '}',
    ]);
  });

  app.get('/v1/proof/consistency', async (c) => {
    const query = readQuery(c, ['old', 'new']);
    const oldSize = decimalParam(query, 'old');
    if (oldSize === undefined) {
      throw new InputError(
        'invalid_argument',
        'query parameter old (the older tree size) is required',
      );
    }
    const newSize = decimalParam(query, 'new') ?? publishedSize(publisher);
    const result = await ledger.consistencyProof(oldSize, newSize);
    return c.json({
      old_size: oldSize,
      tree_size: result.checkpoint.size,
      consistency_proof: result.proof.map(toHex),
      old_checkpoint: presentNote(result.oldCheckpoint, publisher),
      checkpoint: presentNote(result.checkpoint, publisher),
    });
  });
}
