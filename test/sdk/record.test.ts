import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint.js';
import {
  CheckpointConflictError,
  DeclogClient,
  type AppendReceipt,
  type DeclogClientOptions,
} from '../../src/client.js';
import { HttpStatusError, isRetryable } from '../../src/client/retry.js';
import { AuthError, InputError, NetworkError, VerificationError } from '../../src/errors.js';
import { newSigner, signNote } from '../../src/note.js';
import { decision, flipHex, startLedger, TamperProxy, type TestLedger } from '../client/harness.js';

let ledger: TestLedger;
let proxy: TamperProxy;
let proxyUrl: string;
/** POST /v1/decisions requests seen by the proxy since the last proxied(). */
let posts = 0;

beforeAll(async () => {
  ledger = await startLedger();
  proxy = new TamperProxy(ledger.url);
  proxyUrl = await proxy.start();
});

afterAll(async () => {
  await proxy.close();
  await ledger.close();
});

/** A client through the proxy, which forwards unchanged unless `stub` answers first. */
function proxied(
  options: Partial<DeclogClientOptions> = {},
  stub?: (n: number) => ReturnType<NonNullable<TamperProxy['stub']>>,
): DeclogClient {
  posts = 0;
  proxy.tamper = undefined;
  proxy.stub = (path) => {
    if (path !== '/v1/decisions') return undefined;
    posts++;
    return stub?.(posts);
  };
  return new DeclogClient({
    url: proxyUrl,
    token: ledger.token,
    verifierKey: ledger.verifierKey,
    backoff: { baseMs: 5, maxMs: 20 },
    ...options,
  });
}

function withoutId() {
  const { id: _id, ...rest } = decision();
  return rest;
}

async function caught(p: Promise<unknown>): Promise<{ code?: string } & Error> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e as { code?: string } & Error,
  );
}

describe('record', () => {
  it('batches by size', async () => {
    const client = proxied({ batchSize: 10, lingerMs: 1000 });
    const receipts: AppendReceipt[] = [];
    client.on('receipt', (r) => receipts.push(r));
    await Promise.all(Array.from({ length: 30 }, () => client.record(decision())));
    await client.flush();
    expect(posts).toBe(3);
    expect(receipts).toHaveLength(30);
    expect(new Set(receipts.map((r) => r.index)).size).toBe(30);
    expect(client.metrics).toMatchObject({ recorded: 30, receipts: 30, pending: 0 });
  });

  it('sends after the linger time', async () => {
    const client = proxied({ batchSize: 100, lingerMs: 20 });
    const got = new Promise<AppendReceipt>((done) => client.on('receipt', done));
    await client.record(decision());
    expect(posts).toBe(0);
    expect((await got).duplicate).toBe(false);
    expect(posts).toBe(1);
  });

  it('sets a random id', async () => {
    const client = proxied();
    const id = await client.record(withoutId());
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const got = new Promise<AppendReceipt>((done) => client.on('receipt', done));
    await client.flush();
    expect((await got).decision.id).toBe(id);
  });

  it('invalid decision', async () => {
    const client = proxied();
    const err = await caught(client.record({ ...decision(), decision: 'maybe' as 'accept' }));
    expect(err).toBeInstanceOf(InputError);
    await client.flush();
    expect(posts).toBe(0);
  });

  it('retries 5xx with the same ids', async () => {
    const client = proxied({}, (n) => (n <= 2 ? { status: 503, body: 'busy' } : undefined));
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    const ids = await Promise.all([client.record(decision()), client.record(decision())]);
    const receipts: AppendReceipt[] = [];
    client.on('receipt', (r) => receipts.push(r));
    await client.flush();
    expect(posts).toBe(3);
    expect(errors).toHaveLength(2);
    expect(receipts.map((r) => r.decision.id).sort()).toEqual([...ids].sort());
    expect(client.metrics.retries).toBe(2);
  });

  it('same id twice is stored once', async () => {
    const d = decision();
    const receipts: AppendReceipt[] = [];
    for (let run = 0; run < 2; run++) {
      const client = proxied();
      client.on('receipt', (r) => receipts.push(r));
      await client.record(d);
      await client.close();
    }
    expect(receipts.map((r) => r.duplicate)).toEqual([false, true]);
    expect(receipts[1]!.index).toBe(receipts[0]!.index);
  });

  it('reused id fails that decision only', async () => {
    const first = decision();
    const client = proxied();
    await client.recordThenAdmit(first, { budgetMs: 5000 });
    const reused = caught(client.recordThenAdmit({ ...first, kid: 'other' }, { budgetMs: 5000 }));
    const next = client.recordThenAdmit(decision(), { budgetMs: 5000 });
    const err = await reused;
    expect(err).toBeInstanceOf(InputError);
    expect(err.code).toBe('duplicate_id');
    expect((await next).duplicate).toBe(false);
    await client.close();
  });

  it('duplicate naming another decision is forged', async () => {
    const victim = decision();
    const client = proxied();
    const logged = await client.recordThenAdmit(victim, { budgetMs: 5000 });
    // The ledger claims a new decision is a duplicate of the victim's entry.
    proxy.tamper = (path, body) => {
      if (path !== '/v1/decisions') return body;
      const reply = JSON.parse(body);
      reply.entries[0] = {
        index: logged.index,
        leaf_hash: Buffer.from(logged.leafHash).toString('hex'),
        inclusion_proof: reply.entries[0].inclusion_proof,
        duplicate: true,
      };
      return JSON.stringify(reply);
    };
    const err = await caught(client.recordThenAdmit(decision(), { budgetMs: 5000 }));
    expect(err).toBeInstanceOf(VerificationError);
    await client.close({ wait: false });
  });

  it('never retries 4xx', async () => {
    const body = JSON.stringify({ error: { code: 'teapot', message: 'no' } });
    const client = proxied({}, () => ({ status: 418, body }));
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    await client.record(decision());
    const err = await caught(client.flush());
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(posts).toBe(1);
    expect(errors).toEqual([err]);
    await expect(client.record(decision())).rejects.toBe(err);
  });

  it('unknown token is fatal', async () => {
    const client = proxied({ token: 'dlg_wrong' });
    await client.record(decision());
    const err = await caught(client.flush());
    expect(err).toBeInstanceOf(AuthError);
    expect(posts).toBe(1);
  });

  it('retry classes', () => {
    expect(isRetryable(new HttpStatusError(500, 'x'))).toBe(true);
    expect(isRetryable(new HttpStatusError(404, 'x'))).toBe(false);
    expect(isRetryable(new NetworkError('timeout', 'x'))).toBe(true);
    expect(isRetryable(new VerificationError('rollback', 'x'))).toBe(false);
  });

  it('bad options', () => {
    for (const bad of [{ batchSize: 0 }, { batchSize: 10_001 }, { lingerMs: -1 }]) {
      expect(() => proxied(bad)).toThrow(InputError);
    }
  });
});

describe('record against a misbehaving ledger', () => {
  it('forged receipt', async () => {
    const client = proxied();
    proxy.tamper = (path, text) => {
      if (path !== '/v1/decisions') return text;
      const body = JSON.parse(text);
      body.entries[0].leaf_hash = flipHex(body.entries[0].leaf_hash);
      return JSON.stringify(body);
    };
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    await client.record(decision());
    const err = await caught(client.flush());
    expect(err).toBeInstanceOf(VerificationError);
    expect(err.code).toBe('entry_mismatch');
    expect(errors).toEqual([err]);
    expect(client.metrics.receipts).toBe(0);
  });

  it('rolled-back checkpoint', async () => {
    const client = proxied();
    await client.record(decision());
    await client.record(decision());
    await client.flush();
    const seen = client.latest!;
    // The log signs an older, smaller checkpoint and serves it with the next receipt.
    const older = signNote(
      formatCheckpoint({ origin: 'test.example/log', size: 1, root: seen.root, extensions: [] }),
      [newSigner(ledger.signerKey)],
    );
    proxy.tamper = (path, text) => {
      if (path !== '/v1/decisions') return text;
      return JSON.stringify({ ...JSON.parse(text), checkpoint: older, tree_size: 1 });
    };
    await client.record(decision());
    const err = await caught(client.flush());
    expect(err).toBeInstanceOf(CheckpointConflictError);
    expect(err.code).toBe('rollback');
    expect((err as CheckpointConflictError).trusted.size).toBe(seen.size);
  });
});

describe('recordThenAdmit', () => {
  it('admits with a verified receipt', async () => {
    const client = proxied({ lingerMs: 10_000 });
    const receipt = await client.recordThenAdmit(decision(), { budgetMs: 5000 });
    expect(receipt.checkpoint.size).toBeGreaterThan(receipt.index);
    expect(posts).toBe(1);
  });

  it('fails closed over budget', async () => {
    const client = proxied({ timeoutMs: 200 }, (n) => (n === 1 ? 'hang' : undefined));
    const started = Date.now();
    const err = await caught(client.recordThenAdmit(decision(), { budgetMs: 50 }));
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.code).toBe('budget_exceeded');
    expect(Date.now() - started).toBeLessThan(1000);
    // The decision is still recorded once the ledger answers.
    await client.flush();
    expect(client.metrics).toMatchObject({ receipts: 1, pending: 0 });
  });

  it('fails closed on a forged receipt', async () => {
    const client = proxied();
    proxy.tamper = (path, text) => {
      if (path !== '/v1/decisions') return text;
      const body = JSON.parse(text);
      body.entries[0].inclusion_proof[0] = flipHex(body.entries[0].inclusion_proof[0]);
      return JSON.stringify(body);
    };
    const err = await caught(client.recordThenAdmit(decision(), { budgetMs: 5000 }));
    expect(err).toBeInstanceOf(VerificationError);
  });

  it('bad budget', async () => {
    const err = await caught(proxied().recordThenAdmit(decision(), { budgetMs: 0 }));
    expect(err).toBeInstanceOf(InputError);
  });
});
