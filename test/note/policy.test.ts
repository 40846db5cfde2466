import { describe, expect, it } from 'vitest';
import { InputError, VerificationError } from '../../src/errors.js';
import { fromBase64, toBase64, utf8 } from '../../src/encoding.js';
import { leafHash } from '../../src/hash.js';
import { formatCheckpoint } from '../../src/checkpoint.js';
import { generateCosignatureKey, newCosigner } from '../../src/cosignature.js';
import { encodeVerifierKey, generateKey, newSigner, signNote } from '../../src/note.js';
import {
  MAX_POLICY_ITEMS,
  openCheckpointWithPolicy,
  parsePolicy,
  quorumSatisfied,
  verifyTlogProofWithPolicy,
} from '../../src/policy.js';
import { formatTlogProof } from '../../src/tlog-proof.js';
import { expectError } from './expect-error.js';
import { keyMaterial } from './vectors.js';

const LOG = generateKey('example.com/log');
const NAMES = ['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'];
const W = Object.fromEntries(NAMES.map((n) => [n, generateCosignatureKey(`${n}.example`)]));

/** The example policy of c2sp.org/tlog-policy with real keys. */
const EXAMPLE = [
  `log ${LOG.verifierKey}`,
  '',
  ...['X1', 'X2', 'X3'].map((n) => `witness ${n} ${W[n]!.verifierKey}`),
  'group X-witnesses 2 X1 X2 X3',
  '',
  ...['Y1', 'Y2', 'Y3'].map((n) => `witness ${n} ${W[n]!.verifierKey}`),
  'group Y-witnesses any Y1 Y2 Y3',
  '',
  'group X-and-Y all X-witnesses Y-witnesses',
  'quorum X-and-Y',
  '',
].join('\n');

/** Rewraps the public key of a verifier key string under another name. */
function renamed(vkey: string, name: string): string {
  const typed = fromBase64(keyMaterial(vkey));
  return encodeVerifierKey(name, typed[0]!, typed.subarray(1));
}

describe('parsePolicy', () => {
  it('c2sp example', () => {
    const policy = parsePolicy(EXAMPLE);
    expect(policy.logs.map((l) => l.verifier.name)).toEqual(['example.com/log']);
    expect([...policy.witnesses.keys()]).toEqual(NAMES);
    expect(policy.groups.get('X-witnesses')).toEqual({ threshold: 2, members: ['X1', 'X2', 'X3'] });
    expect(policy.groups.get('Y-witnesses')!.threshold).toBe(1);
    expect(policy.groups.get('X-and-Y')!.threshold).toBe(2);
    expect(policy.quorum).toBe('X-and-Y');
  });

  it('comments, tabs and urls', () => {
    const text = [
      '# trust policy',
      `  log\t${LOG.verifierKey}   https://log.example/  `,
      '\t# a witness',
      `witness X1 ${W.X1!.verifierKey} https://w1.example/`,
      '   ',
      'quorum X1',
      '',
    ].join('\n');
    const policy = parsePolicy(text);
    expect(policy.logs[0]!.url).toBe('https://log.example/');
    expect(policy.logs[0]!.vkey).toBe(LOG.verifierKey);
    expect(policy.witnesses.get('X1')!.url).toBe('https://w1.example/');
    expect(policy.quorum).toBe('X1');
  });

  it('quorum none', () => {
    const policy = parsePolicy('quorum none\n');
    expect(policy.logs).toEqual([]);
    expect(quorumSatisfied(policy, new Set())).toBe(true);
  });

  it('non-ascii names', () => {
    const policy = parsePolicy(`witness Zeugë ${W.X1!.verifierKey}\nquorum Zeugë\n`);
    expect(quorumSatisfied(policy, new Set(['Zeugë']))).toBe(true);
  });

  const w = (n: string, key = W[n]!.verifierKey) => `witness ${n} ${key}`;
  it.each([
    ['missing final newline', 'quorum none', 1],
    ['no quorum', `${w('X1')}\n`, 1],
    ['two quorums', 'quorum none\nquorum none\n', 2],
    ['unknown keyword', 'logs x\nquorum none\n', 1],
    ['bad log key', 'log example.com/log+00000000+AAAA\nquorum none\n', 1],
    ['cosignature key as log', `log ${W.X1!.verifierKey}\nquorum none\n`, 1],
    ['note key as witness', `witness L ${LOG.verifierKey}\nquorum none\n`, 1],
    [
      'duplicate log',
      `log ${LOG.verifierKey}\nlog ${renamed(LOG.verifierKey, 'other')}\nquorum none\n`,
      2,
    ],
    [
      'duplicate witness key',
      `${w('X1')}\n${w('X2', renamed(W.X1!.verifierKey, 'x'))}\nquorum none\n`,
      2,
    ],
    ['duplicate name', `${w('X1')}\n${w('X1', W.X2!.verifierKey)}\nquorum none\n`, 2],
    ['group reuses witness name', `${w('X1')}\ngroup X1 any X1\nquorum none\n`, 2],
    ['witness named none', `${w('none', W.X1!.verifierKey)}\nquorum none\n`, 1],
    ['group named none', `${w('X1')}\ngroup none any X1\nquorum none\n`, 2],
    ['member not defined', `${w('X1')}\ngroup G any X1 X2\nquorum none\n`, 2],
    ['member defined later', `group G any X1\n${w('X1')}\nquorum none\n`, 1],
    ['member twice', `${w('X1')}\ngroup G 1 X1 X1\nquorum none\n`, 2],
    ['member none', `${w('X1')}\ngroup G any X1 none\nquorum none\n`, 2],
    ['threshold zero', `${w('X1')}\ngroup G 0 X1\nquorum none\n`, 2],
    ['threshold above members', `${w('X1')}\ngroup G 2 X1\nquorum none\n`, 2],
    ['threshold leading zero', `${w('X1')}\ngroup G 01 X1\nquorum none\n`, 2],
    ['threshold word', `${w('X1')}\ngroup G some X1\nquorum none\n`, 2],
    ['group without members', `${w('X1')}\ngroup G any\nquorum none\n`, 2],
    ['quorum not defined', 'quorum X1\n', 1],
    ['quorum defined later', `quorum X1\n${w('X1')}\n`, 1],
    ['quorum extra field', 'quorum none x\n', 1],
    ['log extra field', `log ${LOG.verifierKey} https://a/ b\nquorum none\n`, 1],
    ['trailing comment', `log ${LOG.verifierKey} https://a/ # c\nquorum none\n`, 1],
    ['carriage return', 'quorum none\r\n', 1],
    ['nul byte', '# \x00\nquorum none\n', 1],
    ['del byte', '# \x7f\nquorum none\n', 1],
  ])('rejects %s', (_, text, line) => {
    const err = expectError(() => parsePolicy(text), InputError, 'invalid_argument');
    expect(err.message).toContain(`policy line ${line}:`);
  });

  it('item cap', () => {
    const keys = Array.from({ length: MAX_POLICY_ITEMS + 1 }, (_, i) =>
      generateCosignatureKey(`w${i}.example`),
    );
    const lines = keys.map((k, i) => `witness w${i} ${k.verifierKey}`);
    const ok = parsePolicy([...lines.slice(0, -1), 'quorum none', ''].join('\n'));
    expect(ok.witnesses.size).toBe(MAX_POLICY_ITEMS);
    const err = expectError(
      () => parsePolicy([...lines, 'quorum none', ''].join('\n')),
      InputError,
      'invalid_argument',
    );
    expect(err.message).toContain(`policy line ${MAX_POLICY_ITEMS + 1}:`);
  });
});

describe('quorumSatisfied', () => {
  const policy = parsePolicy(EXAMPLE);

  it.each([
    [['X1', 'X2', 'Y1'], true],
    [['X1', 'X3', 'Y3'], true],
    [['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'], true],
    [['X1', 'Y1', 'Y2', 'Y3'], false],
    [['X1', 'X2', 'X3'], false],
    [['Y1'], false],
    [[], false],
  ])('example with %j', (names, expected) => {
    expect(quorumSatisfied(policy, new Set(names))).toBe(expected);
  });

  it('unknown names ignored', () => {
    expect(quorumSatisfied(policy, new Set(['X1', 'X-witnesses', 'Y1', 'Z']))).toBe(false);
  });

  it('single witness quorum', () => {
    const single = parsePolicy(`witness X1 ${W.X1!.verifierKey}\nquorum X1\n`);
    expect(quorumSatisfied(single, new Set(['X1']))).toBe(true);
    expect(quorumSatisfied(single, new Set())).toBe(false);
  });
});

/** Signs a checkpoint of `size` with the log key and the named example witnesses. */
function checkpointSignedBy(witnesses: string[], size = 1, root = leafHash(utf8('entry 0'))) {
  const text = formatCheckpoint({ origin: 'example.com/log', size, root, extensions: [] });
  const cosigners = witnesses.map((n) => newCosigner(W[n]!.signerKey));
  return signNote(text, [newSigner(LOG.signerKey), ...cosigners]);
}

describe('openCheckpointWithPolicy', () => {
  const policy = parsePolicy(EXAMPLE);

  it('quorum met', () => {
    const opened = openCheckpointWithPolicy(checkpointSignedBy(['X1', 'Y2', 'X3']), policy);
    expect(opened.witnesses).toEqual(['X1', 'X3', 'Y2']);
    expect(opened.checkpoint.size).toBe(1);
  });

  it('quorum not met', () => {
    const err = expectError(
      () => openCheckpointWithPolicy(checkpointSignedBy(['X1', 'Y2']), policy),
      VerificationError,
      'quorum_not_met',
    );
    expect(err.message).toContain('X1, Y2');
  });

  it('no log signature', () => {
    const text = formatCheckpoint({
      origin: 'example.com/log',
      size: 1,
      root: new Uint8Array(32),
      extensions: [],
    });
    const cosigned = signNote(
      text,
      ['X1', 'X2', 'Y1'].map((n) => newCosigner(W[n]!.signerKey)),
    );
    expectError(
      () => openCheckpointWithPolicy(cosigned, policy),
      VerificationError,
      'no_known_signature',
    );
  });

  it('unknown origin', () => {
    const other = generateKey('example.com/other');
    const text = formatCheckpoint({
      origin: 'example.com/other',
      size: 1,
      root: new Uint8Array(32),
      extensions: [],
    });
    const signed = signNote(text, [newSigner(other.signerKey)]);
    const err = expectError(
      () => openCheckpointWithPolicy(signed, policy),
      VerificationError,
      'no_known_signature',
    );
    expect(err.message).toContain('"example.com/other"');
  });

  it('bad cosignature', () => {
    const signed = checkpointSignedBy(['X1', 'X2', 'Y1']);
    const lines = signed.split('\n');
    const blob = fromBase64(lines[5]!.split(' ')[2]!);
    blob[20]! ^= 1;
    lines[5] = `${lines[5]!.split(' ').slice(0, 2).join(' ')} ${toBase64(blob)}`;
    expectError(
      () => openCheckpointWithPolicy(lines.join('\n'), policy),
      VerificationError,
      'bad_signature',
    );
  });

  it('quorum none', () => {
    const none = parsePolicy(`log ${LOG.verifierKey}\nquorum none\n`);
    expect(openCheckpointWithPolicy(checkpointSignedBy([]), none).witnesses).toEqual([]);
  });
});

describe('verifyTlogProofWithPolicy', () => {
  const policy = parsePolicy(EXAMPLE);
  const entry = utf8('entry 0');

  it('verifies', () => {
    const text = formatTlogProof({
      index: 0,
      proof: [],
      checkpoint: checkpointSignedBy(['X1', 'X2', 'Y3']),
    });
    const verified = verifyTlogProofWithPolicy(text, entry, policy);
    expect(verified.index).toBe(0);
    expect(verified.witnesses).toEqual(['X1', 'X2', 'Y3']);
  });

  it('wrong entry', () => {
    const text = formatTlogProof({
      index: 0,
      proof: [],
      checkpoint: checkpointSignedBy(['X1', 'X2', 'Y3']),
    });
    expectError(
      () => verifyTlogProofWithPolicy(text, utf8('other'), policy),
      VerificationError,
      'root_mismatch',
    );
  });

  it('quorum not met', () => {
    const text = formatTlogProof({ index: 0, proof: [], checkpoint: checkpointSignedBy(['X1']) });
    expectError(
      () => verifyTlogProofWithPolicy(text, entry, policy),
      VerificationError,
      'quorum_not_met',
    );
  });
});
