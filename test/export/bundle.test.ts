import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle, verifyBundle } from '../../src/audit/bundle.js';
import { exportFilter, exportRange } from '../../src/audit/export.js';
import { LogFetcher } from '../../src/audit/log-fetcher.js';
import { DeclogClient } from '../../src/client.js';
import { decodeDecision, encodeDecision } from '../../src/decision.js';
import { VerificationError } from '../../src/errors.js';
import { generateKey, newSigner, newVerifier, parseNote, signNote } from '../../src/note.js';
import { startLedger, type TestLedger } from '../client/harness.js';
import { run, tempDir } from '../cli/helpers.js';
import { append, decision } from '../audit/harness.js';

let ledger: TestLedger;

beforeAll(async () => {
  ledger = await startLedger('export.example/log');
  // 600 entries: the ranges below cross entry bundle boundaries (256 entries each).
  for (let i = 0; i < 3; i++) {
    const list = Array.from({ length: 200 }, (_, j) =>
      decision({ kid: (i * 200 + j) % 10 === 0 ? 'incident-kid' : 'k1' }),
    );
    await append(ledger.url, ledger.token, list);
  }
});

afterAll(async () => {
  await ledger.close();
});

function client(): DeclogClient {
  return new DeclogClient({ url: ledger.url, verifierKey: ledger.verifierKey });
}

function rangeBundle(start: number, end: number): Promise<Uint8Array> {
  const fetcher = new LogFetcher({ url: ledger.url });
  return exportRange(client(), fetcher, ledger.verifierKey, start, end);
}

function verify(bytes: Uint8Array) {
  return verifyBundle(bytes, newVerifier(ledger.verifierKey));
}

/** Re-encodes entry `i` of a bundle with its kid changed: still canonical, different bytes. */
function alterEntry(bytes: Uint8Array, i: number): Uint8Array {
  const bundle = decodeBundle(bytes);
  const d = decodeDecision(bundle.entries[i]!.entry);
  bundle.entries[i]!.entry = encodeDecision({ ...d, kid: 'forged' });
  return encodeBundle(bundle);
}

function failure(bytes: Uint8Array): VerificationError {
  try {
    verify(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(VerificationError);
    return err as VerificationError;
  }
  throw new Error('the bundle verified');
}

describe('range bundle', () => {
  it('verifies and lists every entry of the range', async () => {
    const report = verify(await rangeBundle(100, 400));
    expect(report.kind).toBe('range');
    expect(report.entries.map((e) => e.index)).toEqual(
      Array.from({ length: 300 }, (_, i) => 100 + i),
    );
  });

  it('verifies ranges at both ends of the log', async () => {
    expect(verify(await rangeBundle(0, 1)).entries).toHaveLength(1);
    expect(verify(await rangeBundle(599, 600)).entries).toHaveLength(1);
    expect(verify(await rangeBundle(0, 600)).entries).toHaveLength(600);
  });

  it('fails with an altered entry', async () => {
    const err = failure(alterEntry(await rangeBundle(100, 400), 17));
    expect(err.code).toBe('root_mismatch');
  });

  it('fails with an entry dropped', async () => {
    const bundle = decodeBundle(await rangeBundle(100, 400));
    bundle.entries.splice(50, 1);
    expect(failure(encodeBundle(bundle)).message).toMatch(/needs 300 entries/);
    bundle.range!.end -= 1;
    bundle.entries = bundle.entries.map((e, i) => ({ ...e, index: 100 + i }));
    // Shrinking the range to hide the gap changes the right-hand path or the root.
    expect(failure(encodeBundle(bundle)).code).toMatch(/^(root_mismatch|invalid_proof)$/);
  });

  it('fails when re-signed with another key', async () => {
    const bundle = decodeBundle(await rangeBundle(10, 20));
    const other = generateKey('export.example/log');
    bundle.checkpoint = signNote(parseNote(bundle.checkpoint).text, [newSigner(other.signerKey)]);
    const err = failure(encodeBundle(bundle));
    expect(err.code).toBe('no_known_signature');
  });
});

describe('filter bundle', () => {
  it('verifies every matching decision with its proof', async () => {
    const bytes = await exportFilter(
      client(),
      new LogFetcher({ url: ledger.url }),
      ledger.verifierKey,
      { kid: 'incident-kid' },
    );
    const report = verify(bytes);
    expect(report.kind).toBe('filter');
    expect(report.entries).toHaveLength(60);
    expect(report.entries.every((e) => e.decision.kid === 'incident-kid')).toBe(true);
  });

  it('fails with an altered entry', async () => {
    const bytes = await exportFilter(
      client(),
      new LogFetcher({ url: ledger.url }),
      ledger.verifierKey,
      { kid: 'incident-kid' },
    );
    expect(failure(alterEntry(bytes, 3)).code).toBe('entry_mismatch');
  });

  it('fails with a filter it cannot check', async () => {
    const bytes = await exportFilter(
      client(),
      new LogFetcher({ url: ledger.url }),
      ledger.verifierKey,
      { kid: 'incident-kid' },
    );
    for (const forged of [
      { kid: 'incident-kid', reason: 'key_domain_mismatch' },
      { kid: 'incident-kid', since: '2099-01-01' },
      'incident-kid',
    ]) {
      const bundle = decodeBundle(bytes);
      (bundle as { filter: unknown }).filter = forged;
      expect(() => verify(encodeBundle(bundle)), JSON.stringify(forged)).toThrow(/filter/);
    }
  });
});

describe('declog export and verify-bundle', () => {
  it('export --range then verify-bundle offline', async () => {
    const file = join(tempDir(), 'slice.cbor');
    const key = ledger.verifierKey;
    const r = await run(['export', ledger.url, '--vkey', key, '--range', '250..260', '-o', file]);
    expect(r.code, r.stderr).toBe(0);
    const v = await run(['verify-bundle', file, '--vkey', key, '--json']);
    expect(v.code, v.stderr).toBe(0);
    const report = JSON.parse(v.stdout);
    expect(report.range).toEqual({ start: 250, end: 260 });
    expect(report.proves).toMatch(/none is left out/);
  });

  it('search takes the URL as its argument and prints CSV', async () => {
    const r = await run([
      'search',
      ledger.url,
      '--kid',
      'incident-kid',
      '--all',
      '--format',
      'csv',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^index,time,decision/);
    expect(lines).toHaveLength(61);
  });

  it('verify-bundle exits 1 with the reason for a tampered bundle', async () => {
    const dir = tempDir();
    const file = join(dir, 'slice.cbor');
    const key = ledger.verifierKey;
    const r = await run(['export', ledger.url, '--vkey', key, '--kid', 'incident-kid', '-o', file]);
    expect(r.code, r.stderr).toBe(0);
    const tampered = join(dir, 'tampered.cbor');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(tampered, alterEntry(readFileSync(file), 0));
    const v = await run(['verify-bundle', tampered, '--vkey', key]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/entry \d+/);
  });
});
