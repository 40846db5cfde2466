import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import { MisbehaviourError } from '../../src/audit/evidence.js';
import { LogFetcher } from '../../src/audit/log-fetcher.js';
import { openCheckpoint } from '../../src/checkpoint.js';
import {
  generateCosignatureKey,
  newCosignatureVerifier,
  newCosigner,
} from '../../src/cosignature.js';
import { utf8 } from '../../src/encoding.js';
import { VerificationError } from '../../src/errors.js';
import { formatSignatureLine, newVerifier, noteSignature, parseNote } from '../../src/note.js';
import { appendMany, type ForkedLogs, startForkedLogs, SwitchProxy } from './harness.js';

let logs: ForkedLogs;
let proxy: SwitchProxy;
let url: string;

beforeEach(async () => {
  logs = await startForkedLogs();
  proxy = new SwitchProxy(logs.a.url);
  url = await proxy.start();
});

afterEach(async () => {
  await proxy.close();
  await logs.close();
});

function auditor(options: Partial<ConstructorParameters<typeof Auditor>[0]> = {}): Auditor {
  return new Auditor({
    fetcher: new LogFetcher({ url }),
    verifier: newVerifier(logs.verifierKey),
    ...options,
  });
}

async function misbehaviour(run: Promise<unknown>): Promise<MisbehaviourError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MisbehaviourError);
  return err as MisbehaviourError;
}

describe('auditor', () => {
  it('recomputes the whole tree on a first run', async () => {
    await appendMany(logs.a.url, logs.token, 600);
    const progress: number[] = [];
    const result = await auditor({ onProgress: (done) => progress.push(done) }).audit();
    expect(result.checkpoint.checkpoint.size).toBe(600);
    expect(result.recomputed).toBe(600);
    expect(result.state.range.size).toBe(600);
    expect(progress.at(-1)).toBe(600);
  });

  it('proves consistency and hashes only new entries', async () => {
    await appendMany(logs.a.url, logs.token, 300);
    const first = await auditor().audit();
    await appendMany(logs.a.url, logs.token, 20);
    const second = await auditor().audit(first.state);
    expect(second.previousSize).toBe(300);
    expect(second.recomputed).toBe(20);
    expect(second.checkpoint.checkpoint.size).toBe(320);
  });

  it('catches a fork with a failed consistency proof', async () => {
    await appendMany(logs.a.url, logs.token, 5);
    await appendMany(logs.b.url, logs.token, 5);
    await appendMany(logs.b.url, logs.token, 3);
    const first = await auditor().audit();
    proxy.target = logs.b.url;
    const err = await misbehaviour(auditor().audit(first.state));
    const ev = err.evidence;
    expect(ev.kind).toBe('inconsistent');
    expect(err.code).toBe('inconsistent_checkpoints');
    expect([ev.trusted.tree_size, ev.received.tree_size]).toEqual([5, 8]);
    expect(ev.proof?.old_size).toBe(5);
    expect(ev.proof?.consistency_proof.length).toBeGreaterThan(0);
    // Both notes open with the log key: the evidence stands on its own.
    const verifier = newVerifier(logs.verifierKey);
    expect(openCheckpoint(ev.trusted.checkpoint, verifier).checkpoint.size).toBe(5);
    expect(openCheckpoint(ev.received.checkpoint, verifier).checkpoint.size).toBe(8);
    const other = ev.log_checkpoint_at_trusted_size!;
    expect(other.tree_size).toBe(5);
    expect(other.root_hash).not.toBe(ev.trusted.root_hash);
  });

  it('catches two roots for one size', async () => {
    await appendMany(logs.a.url, logs.token, 4);
    await appendMany(logs.b.url, logs.token, 4);
    const first = await auditor().audit();
    proxy.target = logs.b.url;
    const err = await misbehaviour(auditor().audit(first.state));
    expect(err.evidence.kind).toBe('fork');
    expect(err.evidence.trusted.root_hash).not.toBe(err.evidence.received.root_hash);
  });

  it('catches a rollback', async () => {
    await appendMany(logs.a.url, logs.token, 9);
    await appendMany(logs.b.url, logs.token, 3);
    const first = await auditor().audit();
    proxy.target = logs.b.url;
    const err = await misbehaviour(auditor().audit(first.state));
    expect(err.evidence.kind).toBe('rollback');
    expect(err.code).toBe('rollback');
  });

  it('rejects entries that do not hash to the root', async () => {
    await appendMany(logs.a.url, logs.token, 10);
    proxy.rewrite = (path, body) => {
      if (!path.startsWith('/tile/entries/')) return body;
      const copy = body.slice();
      copy[copy.length - 1] ^= 1;
      return copy;
    };
    const err = await misbehaviour(auditor().audit());
    expect(err.evidence.kind).toBe('entries_mismatch');
    expect(err.code).toBe('root_mismatch');
  });

  it('counts witness cosignatures against the quorum', async () => {
    await appendMany(logs.a.url, logs.token, 3);
    const witness = generateCosignatureKey('witness.example/w1');
    const cosigner = newCosigner(witness.signerKey);
    const witnesses = [newCosignatureVerifier(witness.verifierKey)];
    await expect(auditor({ witnesses, quorum: 1 }).audit()).rejects.toMatchObject({
      code: 'quorum_not_met',
    });
    proxy.rewrite = (path, body) => {
      if (path !== '/checkpoint') return body;
      const note = new TextDecoder().decode(body);
      const line = formatSignatureLine(noteSignature(parseNote(note).text, cosigner));
      return utf8(note + line);
    };
    const result = await auditor({ witnesses, quorum: 1 }).audit();
    expect(result.cosigners).toEqual(['witness.example/w1']);
  });

  it('refuses a quorum above the witness count', () => {
    expect(() => auditor({ quorum: 1 })).toThrow(VerificationError);
  });
});
