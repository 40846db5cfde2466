import { describe, expect, it } from 'vitest';
import { VerificationError } from '../../src/errors.js';
import { fromBase64, toBase64, utf8 } from '../../src/encoding.js';
import { leafHash, nodeHash } from '../../src/hash.js';
import { formatCheckpoint } from '../../src/checkpoint.js';
import {
  generateCosignatureKey,
  newCosigner,
  newCosignatureVerifier,
} from '../../src/cosignature.js';
import { generateKey, newSigner, newVerifier, signNote } from '../../src/note.js';
import {
  MAX_PROOF_HASHES,
  formatTlogProof,
  parseTlogProof,
  verifyTlogProof,
  type TlogProof,
} from '../../src/tlog-proof.js';
import { expectError } from './expect-error.js';
import { loadVector, type C2spExamples } from './vectors.js';

const c2sp = loadVector<C2spExamples>('c2sp-examples.json');
const LOG = generateKey('example.com/log');
const WITNESS = generateCosignatureKey('witness.example/w1');
const ENTRIES = Array.from({ length: 7 }, (_, i) => utf8(`entry ${i}`));

/** Computes MTH(D[n]) straight from RFC 9162 section 2.1.1. */
function treeHash(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 1) return leafHash(leaves[0]!);
  const k = 2 ** Math.floor(Math.log2(leaves.length - 1));
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}

/** Computes PATH(m, D[n]) straight from RFC 9162 section 2.1.3.1. */
function inclusionPath(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length === 1) return [];
  const k = 2 ** Math.floor(Math.log2(leaves.length - 1));
  return m < k
    ? [...inclusionPath(m, leaves.slice(0, k)), treeHash(leaves.slice(k))]
    : [...inclusionPath(m - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

/** Signs a checkpoint of `leaves` with the log key and, if asked, the witness key. */
function signedCheckpoint(leaves: Uint8Array[], origin = 'example.com/log', cosign = false) {
  const root = treeHash(leaves);
  const text = formatCheckpoint({ origin, size: leaves.length, root, extensions: [] });
  const signers = [newSigner(LOG.signerKey), ...(cosign ? [newCosigner(WITNESS.signerKey)] : [])];
  return signNote(text, signers);
}

const CHECKPOINT = signedCheckpoint(ENTRIES, 'example.com/log', true);
const PROOF: TlogProof = { index: 5, proof: inclusionPath(5, ENTRIES), checkpoint: CHECKPOINT };

describe('formatTlogProof', () => {
  it('layout', () => {
    const hashes = PROOF.proof.map((h) => toBase64(h) + '\n').join('');
    const text = formatTlogProof(PROOF);
    expect(text).toBe(`c2sp.org/tlog-proof@v1\nindex 5\n${hashes}\n${CHECKPOINT}`);
  });

  it('round trip', () => {
    expect(parseTlogProof(formatTlogProof(PROOF))).toEqual(PROOF);
  });

  it('round trip with extra', () => {
    const p = { ...PROOF, extra: utf8('context') };
    const text = formatTlogProof(p);
    expect(text.split('\n')[1]).toBe(`extra ${toBase64(utf8('context'))}`);
    expect(parseTlogProof(text)).toEqual(p);
  });

  it('round trip empty extra', () => {
    const p = { ...PROOF, extra: new Uint8Array(0) };
    expect(parseTlogProof(formatTlogProof(p))).toEqual(p);
  });

  it('no proof hashes', () => {
    const p = { index: 0, proof: [], checkpoint: signedCheckpoint(ENTRIES.slice(0, 1)) };
    const text = formatTlogProof(p);
    expect(text).toContain('index 0\n\n');
    expect(parseTlogProof(text)).toEqual(p);
  });

  it.each([
    ['negative index', { index: -1 }],
    ['fractional index', { index: 0.5 }],
    ['31-byte hash', { proof: [new Uint8Array(31)] }],
    ['too many hashes', { proof: Array.from({ length: 65 }, () => new Uint8Array(32)) }],
    [
      'unsigned checkpoint',
      { checkpoint: 'example.com/log\n1\n' + toBase64(new Uint8Array(32)) + '\n' },
    ],
  ])('rejects %s', (_, change) => {
    expectError(
      () => formatTlogProof({ ...PROOF, ...change }),
      VerificationError,
      'malformed_receipt',
    );
  });
});

describe('parseTlogProof', () => {
  const good = formatTlogProof(PROOF);
  const [header, index, ...rest] = good.split('\n');
  const body = rest.join('\n');

  it('c2sp example head', () => {
    const ex = c2sp.tlog_proof_example;
    const p = parseTlogProof(ex.head + '\n' + CHECKPOINT);
    expect(p.index).toBe(ex.index);
    expect(p.proof).toHaveLength(ex.hashes);
    expect(toBase64(p.extra!)).toBe(ex.head.split('\n')[1]!.slice(6));
    expect(p.checkpoint).toBe(CHECKPOINT);
  });

  it.each([
    ['other header', `c2sp.org/tlog-proof@v2\n${index}\n${body}`],
    ['header with space', `${header} \n${index}\n${body}`],
    ['leading zeros', `${header}\nindex 05\n${body}`],
    ['signed index', `${header}\nindex +5\n${body}`],
    ['index too large', `${header}\nindex 9007199254740992\n${body}`],
    ['missing index', `${header}\n${body}`],
    ['capital index', `${header}\nIndex 5\n${body}`],
    ['two spaces', `${header}\nindex  5\n${body}`],
    ['extra after index', `${header}\n${index}\nextra AAAA\n${body}`],
    ['two extra lines', `${header}\nextra AAAA\nextra AAAA\n${index}\n${body}`],
    ['bad extra', `${header}\nextra AAA\n${index}\n${body}`],
    ['31-byte hash', `${header}\n${index}\n${toBase64(new Uint8Array(31))}\n${body}`],
    ['bad hash', `${header}\n${index}\n!${body}`],
    ['crlf', good.replace('\n', '\r\n')],
    ['no blank line', `${header}\n${index}\n${rest[0]}\n`],
    ['no checkpoint', `${header}\n${index}\n\n`],
    ['unsigned checkpoint', `${header}\n${index}\n\nexample.com/log\n1\n${rest[0]}\n`],
    ['bad checkpoint text', `${header}\n${index}\n\n${CHECKPOINT.replace('\n7\n', '\n07\n')}`],
    ['empty', ''],
  ])('rejects %s', (_, text) => {
    expectError(() => parseTlogProof(text), VerificationError, 'malformed_receipt');
  });

  it('hash count cap', () => {
    const hashes = Array.from({ length: MAX_PROOF_HASHES + 1 }, () => toBase64(new Uint8Array(32)));
    const text = `${header}\n${index}\n${hashes.join('\n')}\n\n${CHECKPOINT}`;
    const err = expectError(() => parseTlogProof(text), VerificationError, 'malformed_receipt');
    expect(err.message).toContain(`more than ${MAX_PROOF_HASHES}`);
  });

  it('error names the line', () => {
    const text = `${header}\n${index}\n${rest[0]}\n${toBase64(new Uint8Array(31))}\n\n${CHECKPOINT}`;
    const err = expectError(() => parseTlogProof(text), VerificationError, 'malformed_receipt');
    expect(err.message).toContain('line 4');
  });
});

describe('verifyTlogProof', () => {
  const log = newVerifier(LOG.verifierKey);
  const witness = newCosignatureVerifier(WITNESS.verifierKey);
  const text = formatTlogProof(PROOF);

  it.each(ENTRIES.map((_, i) => i))('every index of 7: %i', (i) => {
    const p = formatTlogProof({ ...PROOF, index: i, proof: inclusionPath(i, ENTRIES) });
    const verified = verifyTlogProof(p, ENTRIES[i]!, log);
    expect(verified.index).toBe(i);
    expect(verified.checkpoint.size).toBe(7);
  });

  it('with witness', () => {
    const verified = verifyTlogProof(text, ENTRIES[5]!, log, { extra: [witness] });
    expect(verified.note.sigs.map((s) => s.name)).toEqual([
      'example.com/log',
      'witness.example/w1',
    ]);
  });

  it('extra returned', () => {
    const p = formatTlogProof({ ...PROOF, extra: utf8('x') });
    expect(verifyTlogProof(p, ENTRIES[5]!, log).extra).toEqual(utf8('x'));
  });

  it('wrong entry', () => {
    expectError(() => verifyTlogProof(text, ENTRIES[4]!, log), VerificationError, 'root_mismatch');
  });

  it('wrong index', () => {
    const p = formatTlogProof({ ...PROOF, index: 4 });
    expectError(() => verifyTlogProof(p, ENTRIES[5]!, log), VerificationError, 'root_mismatch');
  });

  it('index past size', () => {
    const p = formatTlogProof({ ...PROOF, index: 7 });
    expectError(() => verifyTlogProof(p, ENTRIES[5]!, log), VerificationError, 'invalid_proof');
  });

  it('truncated proof', () => {
    const p = formatTlogProof({ ...PROOF, proof: PROOF.proof.slice(0, -1) });
    expectError(() => verifyTlogProof(p, ENTRIES[5]!, log), VerificationError, 'invalid_proof');
  });

  it('flipped proof bit', () => {
    const proof = PROOF.proof.map((h) => Uint8Array.from(h));
    proof[1]![0]! ^= 1;
    const p = formatTlogProof({ ...PROOF, proof });
    expectError(() => verifyTlogProof(p, ENTRIES[5]!, log), VerificationError, 'root_mismatch');
  });

  it('other log key', () => {
    const other = newVerifier(generateKey('example.com/log').verifierKey);
    expectError(
      () => verifyTlogProof(text, ENTRIES[5]!, other),
      VerificationError,
      'no_known_signature',
    );
  });

  it('wrong origin', () => {
    const p = formatTlogProof({ ...PROOF, checkpoint: signedCheckpoint(ENTRIES, 'example.com/x') });
    expectError(() => verifyTlogProof(p, ENTRIES[5]!, log), VerificationError, 'wrong_origin');
  });

  it('root from reference', () => {
    // The reference tree agrees with the checkpoint the proof was checked against.
    const verified = verifyTlogProof(text, ENTRIES[5]!, log);
    expect(verified.checkpoint.root).toEqual(treeHash(ENTRIES));
    expect(fromBase64(toBase64(verified.checkpoint.root))).toHaveLength(32);
  });
});
