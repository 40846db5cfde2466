import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint.js';
import { fromHex, toHex } from '../../src/encoding.js';
import { sha256 } from '../../src/hash.js';
import type { AppendResult } from '../../src/ledger.js';
import { generateKey, newSigner, signNote } from '../../src/note.js';
import { formatTlogProof } from '../../src/tlog-proof.js';
import { verifyInclusion } from '../../src/verify.js';
import { receiptsBody } from '../../server/append.js';
import { BodyWriter, utf8Parts } from '../../server/json-text.js';
import { decisionJSON } from '../support/decisions.js';
import { type TestServer, hashes, open, startTestServer } from './harness.js';

/** Builds the receipts body as the route did before, with JSON.stringify of an object. */
function referenceReceipts(result: AppendResult, validator: string, tlogProof: boolean) {
  const { checkpoint } = result;
  return JSON.stringify({
    checkpoint: checkpoint.note,
    tree_size: checkpoint.size,
    validator,
    entries: result.entries.map((r) => {
      const head = { index: r.index, leaf_hash: toHex(r.leafHash) };
      const proof = tlogProof
        ? {
            tlog_proof: formatTlogProof({
              index: r.index,
              proof: r.inclusionProof,
              checkpoint: checkpoint.note,
            }),
          }
        : { inclusion_proof: r.inclusionProof.map(toHex) };
      return { ...head, ...proof, duplicate: r.duplicate };
    }),
  });
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const hash = (n: number) => sha256(new Uint8Array([n, n >> 8]));

describe('receiptsBody', () => {
  // Receipts that share proof nodes as the same objects, as Ledger.append returns them.
  const shared = [hash(1), hash(2), hash(3)];
  const note = 'log.example/declog\n5\nAAAA\n\n\u2014 log.example/declog q"\\\u0001 \ud83d\ude00\n';
  const result: AppendResult = {
    checkpoint: { size: 5, root: hash(0), note, createdMs: 0 },
    entries: [
      { index: 3, leafHash: hash(10), duplicate: false, inclusionProof: [hash(11), ...shared] },
      { index: 4, leafHash: hash(12), duplicate: false, inclusionProof: shared.slice(1) },
      { index: 1, leafHash: hash(10), duplicate: true, inclusionProof: [shared[0]!, hash(13)] },
      { index: 0, leafHash: hash(14), duplicate: false, inclusionProof: [] },
    ],
  };

  it('batch matches JSON.stringify', () => {
    const body = receiptsBody(result, 'v"al\\idator\u2028', false);
    expect(text(body)).toBe(referenceReceipts(result, 'v"al\\idator\u2028', false));
  });

  it('single receipt matches JSON.stringify', () => {
    const single = { ...result, entries: result.entries.slice(0, 1) };
    expect(text(receiptsBody(single, 'default', false))).toBe(
      referenceReceipts(single, 'default', false),
    );
  });

  it('tlog-proof format matches JSON.stringify', () => {
    const signer = newSigner(generateKey('log.example/declog').signerKey);
    const signed = signNote(
      formatCheckpoint({ origin: 'log.example/declog', size: 5, root: hash(0), extensions: [] }),
      [signer],
    );
    const tlog = { ...result, checkpoint: { ...result.checkpoint, note: signed } };
    expect(text(receiptsBody(tlog, 'default', true))).toBe(
      referenceReceipts(tlog, 'default', true),
    );
  });

  it('shared proof tails match JSON.stringify', () => {
    // Proofs drawn from a few hash objects, so that neighbours often end with the same ones.
    const pool = [0, 1, 2, 3].map(hash);
    pool.push(new Uint8Array(pool[0]!));
    const entryArb = fc.record({
      index: fc.nat(),
      leaf: fc.nat(pool.length - 1),
      proof: fc.array(fc.nat(pool.length - 1), { maxLength: 6 }),
      duplicate: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 8 }), (list) => {
        const many: AppendResult = {
          checkpoint: result.checkpoint,
          entries: list.map((e) => ({
            index: e.index,
            leafHash: pool[e.leaf]!,
            duplicate: e.duplicate,
            inclusionProof: e.proof.map((p) => pool[p]!),
          })),
        };
        expect(text(receiptsBody(many, 'default', false))).toBe(
          referenceReceipts(many, 'default', false),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('utf8Parts: encodes joined parts as UTF-8', () => {
    const parts = ['{"a":', JSON.stringify('\u2014 \ud83d\ude00 \u00e9'), ',"b":"abc"}', ''];
    expect(Buffer.from(utf8Parts(parts))).toEqual(Buffer.from(parts.join(''), 'utf8'));
  });
});

describe('BodyWriter', () => {
  it('writes text, hex and repeats', () => {
    const out = new BodyWriter(16);
    out.text('{"a":');
    out.hex(new Uint8Array([0, 15, 16, 171, 255]));
    out.text(' \u2014 \ud83d\ude00 \u00e9 ' + 'x'.repeat(100));
    out.repeat(1, 4);
    out.text('');
    out.hex(new Uint8Array(0));
    const want = '{"a":000f10abff \u2014 \ud83d\ude00 \u00e9 ' + 'x'.repeat(100) + '"a"';
    expect(Buffer.from(out.bytes())).toEqual(Buffer.from(want, 'utf8'));
    expect(out.length).toBe(Buffer.byteLength(want));
  });

  it('grows past its capacity', () => {
    const out = new BodyWriter(16);
    const hashes = [1, 2, 3, 4, 5].map(hash);
    for (const h of hashes) out.hex(h);
    out.repeat(0, out.length);
    const hex = hashes.map(toHex).join('');
    expect(text(out.bytes())).toBe(hex + hex);
  });

  it('rejects a repeat past the end', () => {
    const out = new BodyWriter();
    out.text('abc');
    expect(() => out.repeat(2, 4)).toThrow(RangeError);
    expect(() => out.repeat(-1, 1)).toThrow(RangeError);
  });
});

describe('receipts over HTTP', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(() => server.stop());

  async function postText(body: unknown): Promise<{ response: Response; text: string }> {
    const response = await fetch(`${server.url}/v1/decisions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
      body: JSON.stringify(body),
    });
    return { response, text: await response.text() };
  }

  /** Rebuilds a receipts body from its parsed fields in the documented order. */
  function canonicalReceipts(json: any): string {
    return JSON.stringify({
      checkpoint: json.checkpoint,
      tree_size: json.tree_size,
      validator: json.validator,
      entries: json.entries.map((e: any) => ({
        index: e.index,
        leaf_hash: e.leaf_hash,
        inclusion_proof: e.inclusion_proof,
        duplicate: e.duplicate,
      })),
    });
  }

  it('batch with duplicates keeps its text', async () => {
    const first = await postText({ decisions: [0, 1, 2].map((n) => decisionJSON(n)) });
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('content-type')).toBe('application/json');
    expect(first.text).toBe(canonicalReceipts(JSON.parse(first.text)));

    const batch = [3, 1, 4, 3, 5].map((n) => decisionJSON(n));
    const { response, text } = await postText({ decisions: batch });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    const json = JSON.parse(text);
    expect(text).toBe(canonicalReceipts(json));
    expect(json.entries.map((e: any) => e.duplicate)).toEqual([false, true, false, true, false]);
    const { checkpoint } = open(server, json.checkpoint);
    expect(json.checkpoint).toContain('\u2014 ');
    for (const e of json.entries) {
      const proof = hashes(e.inclusion_proof);
      verifyInclusion(fromHex(e.leaf_hash), e.index, checkpoint.size, proof, checkpoint.root);
    }
  });

  it('single decision keeps its text', async () => {
    const single = await postText(decisionJSON(6));
    expect(single.text).toBe(canonicalReceipts(JSON.parse(single.text)));
    expect(JSON.parse(single.text).entries).toHaveLength(1);
  });
});
