import { describe, expect, it } from 'vitest';
import { InputError, VerificationError } from '../../src/errors.js';
import { fromBase64, toBase64, utf8 } from '../../src/encoding.js';
import { sha256 } from '../../src/hash.js';
import {
  MAX_NOTE_BYTES,
  computeKeyId,
  generateKey,
  newSigner,
  newVerifier,
  openNote,
  parseNote,
  signNote,
  verifierKeyFromSigner,
  type Verifier,
} from '../../src/note.js';
import { expectError } from './expect-error.js';
import {
  keyMaterial,
  loadMalformed,
  loadVector,
  type C2spExamples,
  type GoSign,
  type GoSumdbNote,
} from './vectors.js';

const go = loadVector<GoSumdbNote>('go-sumdb-note.json');
const goSign = loadVector<GoSign>('go-sign.json');
const c2sp = loadVector<C2spExamples>('c2sp-examples.json');
const peter = () => newVerifier(go.peter.verifier_key);
const enoch = () => newVerifier(go.enoch.verifier_key);

/** Returns a well-formed signature line from an unknown key. */
function unknownLine(i: number): string {
  const blob = new Uint8Array(68);
  new DataView(blob.buffer).setUint32(0, i);
  blob[4] = i & 0xff;
  return `\u2014 unknown${i}.example ${toBase64(blob)}\n`;
}

describe('keys', () => {
  it('peter signer', () => {
    const signer = newSigner(go.peter.signer_key);
    expect(signer.name).toBe('PeterNeumann');
    expect(signer.keyId).toBe(0xc74f20a3);
    expect(verifierKeyFromSigner(go.peter.signer_key)).toBe(go.peter.verifier_key);
  });

  it('enoch zero seed', () => {
    expect(verifierKeyFromSigner(go.enoch.signer_key)).toBe(go.enoch.verifier_key);
    expect(enoch().keyId).toBe(0xaf0cfe78);
  });

  it('key id formula', () => {
    // SHA-256("PeterNeumann" || 0x0A || 0x01 || public key)[:4], key from the vkey.
    const typed = fromBase64(keyMaterial(go.peter.verifier_key));
    const name = utf8('PeterNeumann\n');
    const sum = sha256(new Uint8Array([...name, ...typed]));
    expect(computeKeyId('PeterNeumann', typed)).toBe(new DataView(sum.buffer).getUint32(0));
    expect(computeKeyId('PeterNeumann', typed)).toBe(0xc74f20a3);
  });

  it('generate round trip', () => {
    const { signerKey, verifierKey } = generateKey('EnochRoot');
    const signer = newSigner(signerKey);
    const verifier = newVerifier(verifierKey);
    expect([signer.name, signer.keyId]).toEqual([verifier.name, verifier.keyId]);
    expect(verifierKeyFromSigner(signerKey)).toBe(verifierKey);
    const msg = utf8('hi');
    const sig = signer.sign(msg);
    expect(verifier.verify(msg, sig)).toBe(true);
    sig[0]! ^= 1;
    expect(verifier.verify(msg, sig)).toBe(false);
    sig[0]! ^= 1;
    expect(verifier.verify(utf8('hj'), sig)).toBe(false);
    expect(verifier.verify(msg, sig.subarray(1))).toBe(false);
  });

  it.each([
    '',
    'a+b',
    'a b',
    'a\tb',
    'a\nb',
    'a\u00a0b',
    'a\u2028b',
    'a\u3000b',
    'a\x7fb',
    'a\u0085b',
  ])('generate rejects name %j', (name) => {
    expectError(() => generateKey(name), InputError, 'invalid_argument');
  });

  it('verifier key substrings', () => {
    const key = go.peter.verifier_key;
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) {
        if (i === 0 && j === key.length) continue;
        expectError(() => newVerifier(key.slice(i, j)), VerificationError, 'malformed_key');
      }
    }
  });

  it('verifier key byte increments', () => {
    const key = go.peter.verifier_key;
    for (let i = 0; i < key.length; i++) {
      const bad = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
      expectError(() => newVerifier(bad), VerificationError, 'malformed_key');
    }
  });

  it('signer key substrings and increments', () => {
    const key = go.peter.signer_key;
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) {
        if (i === 0 && j === key.length) continue;
        expectError(() => newSigner(key.slice(i, j)), VerificationError, 'malformed_key');
      }
    }
    for (let i = 0; i < key.length; i++) {
      const bad = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
      expectError(() => newSigner(bad), VerificationError, 'malformed_key');
    }
  });

  it.each(go.bad_verifier_keys)('go bad key: $why', ({ key }) => {
    expectError(() => newVerifier(key), VerificationError, 'malformed_key');
  });

  it('uppercase key id', () => {
    const key = go.peter.verifier_key.replace('c74f20a3', 'C74F20A3');
    expectError(() => newVerifier(key), VerificationError, 'malformed_key');
  });

  it('small order public key', () => {
    // y = 1 encodes the identity point. The key ID is correct, so only the point is rejected.
    const typed = new Uint8Array(33);
    typed[0] = 0x01;
    typed[1] = 0x01;
    const id = computeKeyId('bad', typed).toString(16).padStart(8, '0');
    const err = expectError(
      () => newVerifier(`bad+${id}+${toBase64(typed)}`),
      VerificationError,
      'malformed_key',
    );
    expect(err.message).toContain('small order');
  });

  it('cosignature key type', () => {
    const vkey = c2sp.cosignature_verifier_keys.find((k) => k.cosignature)!.key;
    expectError(() => newVerifier(vkey), VerificationError, 'malformed_key');
  });

  it('signer errors hide the key', () => {
    const secret = keyMaterial(go.peter.signer_key);
    const bad = go.peter.signer_key.replace('c74f20a3', 'c74f20a4');
    const err = expectError(() => newSigner(bad), VerificationError, 'malformed_key');
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain('PeterNeumann');
  });
});

describe('openNote', () => {
  it('go note', () => {
    const note = openNote(go.signed, [peter()]);
    expect(note.text).toBe(go.text);
    expect(note.sigs).toEqual([
      { name: 'PeterNeumann', keyId: 0xc74f20a3, base64: go.peter_sig.slice(15, -1) },
    ]);
    expect(note.unverifiedSigs).toEqual([]);
  });

  it('bytes input', () => {
    expect(openNote(utf8(go.signed), [peter()])).toEqual(openNote(go.signed, [peter()]));
  });

  it('unknown key ignored', () => {
    const note = openNote(go.both_signed, [peter()]);
    expect(note.sigs.map((s) => s.name)).toEqual(['PeterNeumann']);
    expect(note.unverifiedSigs).toEqual([
      { name: 'EnochRoot', keyId: 0xaf0cfe78, base64: go.enoch_sig.slice(12, -1) },
    ]);
  });

  it('two keys', () => {
    const note = openNote(go.both_signed, [peter(), enoch()]);
    expect(note.sigs.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(note.unverifiedSigs).toEqual([]);
  });

  it('no known key', () => {
    const err = expectError(
      () => openNote(go.both_signed, []),
      VerificationError,
      'no_known_signature',
    );
    expect(err.message).toContain('PeterNeumann+c74f20a3');
    expect(err.message).toContain('EnochRoot+af0cfe78');
  });

  it('bad signature', () => {
    const tampered = go.peter_sig.slice(0, 60) + 'ABCD' + go.peter_sig.slice(60);
    const err = expectError(
      () => openNote(go.text + '\n' + tampered, [peter()]),
      VerificationError,
      'bad_signature',
    );
    expect(err.message).toContain('PeterNeumann+c74f20a3');
  });

  it('bad signature after a good one', () => {
    const text = 'another text\n';
    const note = signNote(text, [newSigner(go.peter.signer_key)]);
    const forged = go.text + '\n' + go.enoch_sig + note.slice(text.length + 1);
    expectError(() => openNote(forged, [peter(), enoch()]), VerificationError, 'bad_signature');
  });

  it('same name other id', () => {
    // A signature naming PeterNeumann under another key ID is from an unknown key.
    const other = unknownLine(7).replace('unknown7.example', 'PeterNeumann');
    const note = openNote(go.signed + other, [peter()]);
    expect(note.unverifiedSigs.map((s) => s.keyId)).toEqual([7]);
    expectError(
      () => openNote(go.text + '\n' + other, [peter()]),
      VerificationError,
      'no_known_signature',
    );
  });

  it('ambiguous verifiers', () => {
    expectError(() => openNote(go.signed, [peter(), peter()]), VerificationError, 'malformed_key');
    const once = peter();
    expect(openNote(go.signed, [once, once]).sigs).toHaveLength(1);
  });

  it('c2sp example', () => {
    const ex = c2sp.signed_note_example;
    const verifier = newVerifier(ex.verifier_key);
    expect(verifier.keyId).toBe(parseInt(ex.key_id, 16));
    expect(openNote(ex.signed, [verifier]).text).toBe(ex.text);
  });

  it('c2sp intro split at last empty line', () => {
    const ex = c2sp.signed_note_intro;
    const note = parseNote(ex.signed);
    expect(note.text).toBe(ex.text);
    expect(note.sigs.map((s) => [s.name, s.keyId])).toEqual([
      [ex.key_name, parseInt(ex.key_id, 16)],
    ]);
  });
});

describe('signNote', () => {
  const signers = goSign.keys.map((k) => newSigner(k.signer_key));
  const verifiers = goSign.keys.map((k) => newVerifier(k.verifier_key));

  it.each(goSign.keys)('go key $seed', (k) => {
    expect(verifierKeyFromSigner(k.signer_key)).toBe(k.verifier_key);
  });

  it.each(goSign.notes)('go vector $name', (v) => {
    expect(
      signNote(
        v.text,
        v.signers.map((i) => signers[i]!),
      ),
    ).toBe(v.signed);
    const note = openNote(v.signed, verifiers);
    expect(note.text).toBe(v.text);
    expect(note.sigs.map((s) => s.keyId)).toEqual(v.signers.map((i) => signers[i]!.keyId));
  });

  it('go peter note', () => {
    expect(signNote(go.text, [newSigner(go.peter.signer_key)])).toBe(go.signed);
  });

  it.each([
    ['no final newline', 'abc'],
    ['empty', ''],
    ['carriage return', 'a\r\n'],
    ['tab', 'a\tb\n'],
    ['nul', 'a\x00\n'],
    ['del', 'a\x7f\n'],
    ['lone surrogate', 'a\ud800\n'],
  ])('rejects text: %s', (_, text) => {
    expectError(() => signNote(text, [signers[0]!]), VerificationError, 'malformed_note');
  });

  it('rejects no signers', () => {
    expectError(() => signNote('a\n', []), InputError, 'invalid_argument');
  });

  it('rejects repeated signer', () => {
    expectError(() => signNote('a\n', [signers[0]!, signers[0]!]), InputError, 'invalid_argument');
  });

  it('rejects bad signer name', () => {
    const bad = { name: 'bad name', keyId: 1, sign: () => new Uint8Array(64) };
    expectError(() => signNote('a\n', [bad]), InputError, 'invalid_argument');
  });

  it('rejects oversized note', () => {
    const text = 'x'.repeat(MAX_NOTE_BYTES - 10) + '\n';
    expectError(() => signNote(text, [signers[0]!]), VerificationError, 'malformed_note');
  });
});

describe('malformed', () => {
  const verifiers: Verifier[] = [peter()];

  it.each(loadMalformed())('$name', (v) => {
    const msg = v.note_base64 !== undefined ? fromBase64(v.note_base64) : v.note!;
    expectError(() => parseNote(msg), VerificationError, v.code);
    expectError(() => openNote(msg, verifiers), VerificationError, v.code);
  });

  it('lone surrogate string', () => {
    expectError(() => parseNote('\ud800' + go.signed), VerificationError, 'malformed_note');
  });

  it('error names the rule', () => {
    const err = expectError(() => parseNote(go.text), VerificationError, 'malformed_note');
    expect(err.message).toContain('no empty line');
    const cut = go.signed.slice(0, -1);
    const nl = expectError(() => parseNote(cut), VerificationError, 'malformed_note');
    expect(nl.message).toContain('final newline');
    const cr = expectError(() => parseNote('a\r' + go.signed), VerificationError, 'malformed_note');
    expect(cr.message).toContain('U+000D at offset 1');
  });
});

describe('limits', () => {
  const withLines = (n: number) =>
    go.signed + Array.from({ length: n - 1 }, (_, i) => unknownLine(i)).join('');

  it.each([16, 100])('%i signature lines accepted', (n) => {
    const note = openNote(withLines(n), [peter()]);
    expect(note.sigs).toHaveLength(1);
    expect(note.unverifiedSigs).toHaveLength(n - 1);
  });

  it('101 signature lines rejected', () => {
    const err = expectError(() => parseNote(withLines(101)), VerificationError, 'malformed_note');
    expect(err.message).toContain('101 signature lines');
  });

  it('size cap', () => {
    const big = 'x'.repeat(MAX_NOTE_BYTES - 200) + '\n';
    const signed = signNote(big, [newSigner(go.peter.signer_key)]);
    expect(openNote(signed, [peter()]).text).toBe(big);
    const over = 'x'.repeat(MAX_NOTE_BYTES) + go.signed;
    expectError(() => parseNote(over), VerificationError, 'malformed_note');
    expectError(() => parseNote(utf8(over)), VerificationError, 'malformed_note');
  });

  it('size cap counts utf-8 bytes', () => {
    // 'é' is 2 bytes in UTF-8: the string is under the cap in characters, over it in bytes.
    const text = '\u00e9'.repeat(MAX_NOTE_BYTES / 2) + '\n';
    expectError(() => parseNote(text + go.signed), VerificationError, 'malformed_note');
  });
});
