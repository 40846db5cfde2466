import { describe, expect, it } from 'vitest';
import { VerificationError } from '../../src/errors.js';
import { fromBase64, toBase64 } from '../../src/encoding.js';
import { EMPTY_ROOT } from '../../src/hash.js';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  type Checkpoint,
} from '../../src/checkpoint.js';
import {
  generateCosignatureKey,
  newCosigner,
  newCosignatureVerifier,
} from '../../src/cosignature.js';
import { generateKey, newSigner, newVerifier, parseNote, signNote } from '../../src/note.js';
import { expectError } from './expect-error.js';
import { loadVector, type C2spExamples, type GoSign } from './vectors.js';

const c2sp = loadVector<C2spExamples>('c2sp-examples.json');
const goSign = loadVector<GoSign>('go-sign.json');

/** A root hash of 32 bytes 0x00, 0x01, ..., 0x1f. */
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i);
const ROOT64 = toBase64(ROOT);

const LOG = generateKey('example.com/log');
const WITNESS = generateCosignatureKey('witness.example/w1');

describe('formatCheckpoint', () => {
  it('round trip', () => {
    const c: Checkpoint = { origin: 'example.com/log', size: 42, root: ROOT, extensions: [] };
    const text = formatCheckpoint(c);
    expect(text).toBe(`example.com/log\n42\n${ROOT64}\n`);
    expect(parseCheckpoint(text)).toEqual(c);
  });

  it('extensions kept', () => {
    const c: Checkpoint = { origin: 'o', size: 0, root: EMPTY_ROOT, extensions: ['a b', 'c'] };
    const text = formatCheckpoint(c);
    expect(text.endsWith('\na b\nc\n')).toBe(true);
    expect(parseCheckpoint(text)).toEqual(c);
  });

  it('largest size', () => {
    const c: Checkpoint = { origin: 'o', size: 2 ** 53 - 1, root: ROOT, extensions: [] };
    expect(parseCheckpoint(formatCheckpoint(c)).size).toBe(2 ** 53 - 1);
  });

  it.each([
    ['negative size', { size: -1 }],
    ['fractional size', { size: 1.5 }],
    ['size 2^53', { size: 2 ** 53 }],
    ['31-byte root', { root: ROOT.subarray(1) }],
    ['empty origin', { origin: '' }],
    ['origin with newline', { origin: 'a\nb' }],
    ['origin with tab', { origin: 'a\tb' }],
    ['empty extension', { extensions: [''] }],
    ['extension with newline', { extensions: ['a\n'] }],
  ])('rejects %s', (_, change) => {
    const c = { origin: 'o', size: 1, root: ROOT, extensions: [], ...change };
    expectError(() => formatCheckpoint(c), VerificationError, 'malformed_checkpoint');
  });
});

describe('parseCheckpoint', () => {
  it('c2sp example', () => {
    const ex = c2sp.cosigned_checkpoint;
    const note = parseNote(ex.signed);
    const c = parseCheckpoint(note.text);
    expect(c.origin).toBe(ex.origin);
    expect(c.size).toBe(ex.size);
    expect(toBase64(c.root)).toBe(ex.root_base64);
    expect(c.extensions).toEqual([]);
    const ids = note.sigs.map((s) => s.keyId.toString(16).padStart(8, '0'));
    expect(ids).toEqual([ex.log_key_id, ex.witness_key_id]);
  });

  it.each([
    ['leading zeros', `o\n007\n${ROOT64}\n`],
    ['plus sign', `o\n+7\n${ROOT64}\n`],
    ['minus sign', `o\n-1\n${ROOT64}\n`],
    ['size 2^53', `o\n9007199254740992\n${ROOT64}\n`],
    ['empty size', `o\n\n${ROOT64}\n`],
    ['space in size', `o\n 7\n${ROOT64}\n`],
    ['hex size', `o\n0x10\n${ROOT64}\n`],
    ['31-byte root', `o\n7\n${toBase64(ROOT.subarray(1))}\n`],
    ['33-byte root', `o\n7\n${toBase64(new Uint8Array(33))}\n`],
    ['unpadded root', `o\n7\n${ROOT64.slice(0, -1)}\n`],
    ['url-safe root', `o\n7\n${toBase64(new Uint8Array(32).fill(0xfb))}\n`.replace(/\+/g, '-')],
    ['empty origin', `\n7\n${ROOT64}\n`],
    ['missing root line', 'o\n7\n'],
    ['only origin', 'o\n'],
    ['missing final newline', `o\n7\n${ROOT64}`],
    ['empty extension', `o\n7\n${ROOT64}\n\n`],
    ['carriage return', `o\r\n7\n${ROOT64}\n`],
  ])('rejects %s', (_, text) => {
    expectError(() => parseCheckpoint(text), VerificationError, 'malformed_checkpoint');
  });

  it('error names the size', () => {
    const err = expectError(
      () => parseCheckpoint(`o\n007\n${ROOT64}\n`),
      VerificationError,
      'malformed_checkpoint',
    );
    expect(err.message).toContain('"007"');
  });
});

describe('openCheckpoint', () => {
  const text = formatCheckpoint({ origin: 'example.com/log', size: 9, root: ROOT, extensions: [] });
  const signed = signNote(text, [newSigner(LOG.signerKey)]);
  const log = newVerifier(LOG.verifierKey);

  it('opens', () => {
    const opened = openCheckpoint(signed, log);
    expect(opened.checkpoint.size).toBe(9);
    expect(opened.checkpoint.root).toEqual(ROOT);
    expect(opened.signed).toBe(signed);
    expect(opened.note.sigs.map((s) => s.name)).toEqual(['example.com/log']);
  });

  it('bytes input', () => {
    expect(openCheckpoint(new TextEncoder().encode(signed), log).signed).toBe(signed);
  });

  it('go signed', () => {
    const v = goSign.notes.find((n) => n.name === 'checkpoint')!;
    const verifier = newVerifier(goSign.keys[0]!.verifier_key);
    expect(openCheckpoint(v.signed, verifier).checkpoint.size).toBe(20852163);
  });

  it('rotated key', () => {
    const v = goSign.notes.find((n) => n.name === 'checkpoint-two-keys')!;
    const rotated = newVerifier(goSign.keys[1]!.verifier_key);
    const opened = openCheckpoint(v.signed, rotated);
    expect(opened.note.sigs.map((s) => s.keyId)).toEqual([rotated.keyId]);
    expect(opened.note.unverifiedSigs).toHaveLength(1);
  });

  it('wrong origin', () => {
    const other = formatCheckpoint({
      origin: 'example.com/other',
      size: 9,
      root: ROOT,
      extensions: [],
    });
    const wrong = signNote(other, [newSigner(LOG.signerKey)]);
    const err = expectError(() => openCheckpoint(wrong, log), VerificationError, 'wrong_origin');
    expect(err.message).toContain('"example.com/other"');
    expect(err.message).toContain('"example.com/log"');
  });

  it('origin option', () => {
    expect(openCheckpoint(signed, log, { origin: 'example.com/log' }).checkpoint.size).toBe(9);
    expectError(
      () => openCheckpoint(signed, log, { origin: 'example.com/log2' }),
      VerificationError,
      'wrong_origin',
    );
  });

  it('with cosignature', () => {
    const cosigner = newCosigner(WITNESS.signerKey, () => 1700000000);
    const both = signNote(text, [newSigner(LOG.signerKey), cosigner]);
    const witness = newCosignatureVerifier(WITNESS.verifierKey);
    const opened = openCheckpoint(both, log, { extra: [witness] });
    expect(opened.note.sigs.map((s) => s.name)).toEqual(['example.com/log', 'witness.example/w1']);
    expect(openCheckpoint(both, log).note.unverifiedSigs).toHaveLength(1);
  });

  it('witness only', () => {
    const cosigned = signNote(text, [newCosigner(WITNESS.signerKey)]);
    const witness = newCosignatureVerifier(WITNESS.verifierKey);
    const err = expectError(
      () => openCheckpoint(cosigned, log, { extra: [witness] }),
      VerificationError,
      'no_known_signature',
    );
    expect(err.message).toContain(`example.com/log+${log.keyId.toString(16).padStart(8, '0')}`);
  });

  it('other log key', () => {
    const other = newVerifier(generateKey('example.com/log').verifierKey);
    expectError(() => openCheckpoint(signed, other), VerificationError, 'no_known_signature');
  });

  it('bad signature', () => {
    const blob = fromBase64(signed.slice(signed.lastIndexOf(' ') + 1, -1));
    blob[10]! ^= 1;
    const forged = signed.slice(0, signed.lastIndexOf(' ') + 1) + toBase64(blob) + '\n';
    expectError(() => openCheckpoint(forged, log), VerificationError, 'bad_signature');
  });

  it('malformed text', () => {
    const bad = signNote('example.com/log\n007\n' + ROOT64 + '\n', [newSigner(LOG.signerKey)]);
    expectError(() => openCheckpoint(bad, log), VerificationError, 'malformed_checkpoint');
  });
});
