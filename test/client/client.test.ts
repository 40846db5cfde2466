import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint.js';
import {
  CheckpointConflictError,
  DeclogClient,
  DeclogReader,
  toTlogProof,
  type DeclogClientOptions,
} from '../../src/client.js';
import { encodeDecision } from '../../src/decision.js';
import { toHex } from '../../src/encoding.js';
import {
  AuthError,
  InputError,
  NetworkError,
  NotFoundError,
  VerificationError,
} from '../../src/errors.js';
import { leafHash } from '../../src/hash.js';
import { generateKey, newSigner, newVerifier, signNote } from '../../src/note.js';
import { verifyTlogProof } from '../../src/tlog-proof.js';
import {
  breakSignature,
  decision,
  flipHex,
  startLedger,
  TamperProxy,
  type TestLedger,
} from './harness.js';

let ledger: TestLedger;
let proxy: TamperProxy;
let proxyUrl: string;

beforeAll(async () => {
  ledger = await startLedger();
  proxy = new TamperProxy(ledger.url);
  proxyUrl = await proxy.start();
  // Some entries first, so inclusion proofs are not empty.
  await direct().append([decision(), decision(), decision()]);
});

afterAll(async () => {
  await proxy.close();
  await ledger.close();
});

function direct(options: Partial<DeclogClientOptions> = {}): DeclogClient {
  return new DeclogClient({
    url: ledger.url,
    token: ledger.token,
    verifierKey: ledger.verifierKey,
    ...options,
  });
}

/** Returns a client that talks through the proxy, which starts out forwarding unchanged. */
function proxied(options: Partial<DeclogClientOptions> = {}): DeclogClient {
  proxy.tamper = undefined;
  proxy.stub = undefined;
  return direct({ url: proxyUrl, ...options });
}

/** Rewrites the JSON responses of one path prefix. */
function tamperJson(prefix: string, edit: (body: Record<string, any>) => void): void {
  proxy.tamper = (path, text) => {
    if (!path.startsWith(prefix)) return text;
    const body = JSON.parse(text);
    edit(body);
    return JSON.stringify(body);
  };
}

/** Signs a checkpoint with the log's own key, as a misbehaving log would. */
function forge(size: number, root: Uint8Array): string {
  const text = formatCheckpoint({ origin: 'test.example/log', size, root, extensions: [] });
  return signNote(text, [newSigner(ledger.signerKey)]);
}

async function rejects(p: Promise<unknown>, cls: Function, code: string): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  expect((err as { code: string }).code).toBe(code);
  return err as Error;
}

describe('DeclogClient.append', () => {
  it('verifies and returns receipts', async () => {
    const client = direct();
    const sent = [decision(), decision({ decision: 'accept', reason: 'ok', tenant: 't1' })];
    const receipts = await client.append(sent);
    expect(receipts).toHaveLength(2);
    const [a, b] = receipts;
    expect(b!.index).toBe(a!.index + 1);
    expect(a!.duplicate).toBe(false);
    expect(a!.treeSize).toBe(b!.checkpoint.size);
    expect(b!.decision.validator).toBe('default');
    expect(b!.decision.tenant).toBe('t1');
    expect(toHex(leafHash(b!.entry))).toBe(toHex(b!.leafHash));
    expect(client.latest?.size).toBe(a!.treeSize);
  });

  it('receipt verifies offline as tlog-proof', async () => {
    const [r] = await direct().append(decision());
    const proof = toTlogProof(r!);
    const v = verifyTlogProof(proof, r!.entry, newVerifier(ledger.verifierKey));
    expect(v.index).toBe(r!.index);
  });

  it('retry is a duplicate', async () => {
    const client = direct();
    const d = decision();
    const [first] = await client.append(d);
    const [again] = await client.append(d);
    expect(again!.duplicate).toBe(true);
    expect(again!.index).toBe(first!.index);
  });

  it('duplicate id with other content', async () => {
    const client = direct();
    const d = decision();
    const [first] = await client.append(d);
    const [again] = await client.append({ ...d, kid: 'other' });
    expect(again!.duplicate).toBe(true);
    expect(again!.index).toBe(first!.index);
    expect(again!.conflict?.kid).toBe(d.kid);
    expect(again!.decision.kid).toBe('other');
  });

  it('concurrent appends', async () => {
    const client = direct();
    const batches = Array.from({ length: 6 }, () => client.append([decision(), decision()]));
    const receipts = (await Promise.all(batches)).flat();
    const indexes = new Set(receipts.map((r) => r.index));
    expect(indexes.size).toBe(12);
    const top = Math.max(...receipts.map((r) => r.treeSize));
    expect(client.latest?.size).toBe(top);
  });

  it('invalid decision sends nothing', async () => {
    const client = proxied();
    let requests = 0;
    proxy.stub = () => {
      requests++;
      return undefined;
    };
    await rejects(client.append(decision({ reason: 'ok' })), InputError, 'invalid_decision');
    expect(requests).toBe(0);
  });

  it('no token', async () => {
    await rejects(direct({ token: undefined }).append(decision()), AuthError, 'missing_token');
  });

  it('unknown token', async () => {
    await rejects(direct({ token: 'declog_nope' }).append(decision()), AuthError, 'invalid_token');
  });
});

describe('DeclogClient.append in flight', () => {
  it('flipped proof byte', async () => {
    const client = proxied();
    tamperJson('/v1/decisions', (b) => {
      b.entries[0].inclusion_proof[0] = flipHex(b.entries[0].inclusion_proof[0]);
    });
    await rejects(client.append(decision()), VerificationError, 'root_mismatch');
  });

  it('dropped proof hash', async () => {
    const client = proxied();
    tamperJson('/v1/decisions', (b) => b.entries[0].inclusion_proof.pop());
    await rejects(client.append(decision()), VerificationError, 'invalid_proof');
  });

  it('changed leaf hash', async () => {
    const client = proxied();
    tamperJson('/v1/decisions', (b) => {
      b.entries[0].leaf_hash = flipHex(b.entries[0].leaf_hash);
    });
    await rejects(client.append(decision()), VerificationError, 'entry_mismatch');
  });

  it('other stamped validator', async () => {
    const client = proxied();
    tamperJson('/v1/decisions', (b) => (b.validator = 'someone-else'));
    await rejects(client.append(decision()), VerificationError, 'entry_mismatch');
  });

  it('broken checkpoint signature', async () => {
    const client = proxied();
    tamperJson('/v1/decisions', (b) => (b.checkpoint = breakSignature(b.checkpoint)));
    await rejects(client.append(decision()), VerificationError, 'bad_signature');
  });

  it('checkpoint of the size before', async () => {
    const client = proxied();
    const before = await client.checkpoint();
    tamperJson('/v1/decisions', (b) => {
      b.checkpoint = before.signed;
      b.tree_size = before.size;
    });
    // The new entry's index is not below the old size.
    await rejects(client.append(decision()), VerificationError, 'invalid_proof');
  });

  it('checkpoint older than seen', async () => {
    const client = proxied();
    const old = await direct().checkpoint();
    await client.append(decision());
    tamperJson('/v1/decisions', (b) => {
      b.checkpoint = old.signed;
      b.tree_size = old.size;
    });
    const err = await rejects(client.append(decision()), CheckpointConflictError, 'rollback');
    expect((err as CheckpointConflictError).received.size).toBe(old.size);
  });

  it('tree_size field disagrees', async () => {
    const client = proxied();
    tamperJson('/v1/decisions', (b) => (b.tree_size += 1));
    await rejects(client.append(decision()), VerificationError, 'malformed_receipt');
  });

  it('entry missing', async () => {
    const client = proxied();
    tamperJson('/v1/decisions', (b) => b.entries.pop());
    await rejects(client.append([decision(), decision()]), VerificationError, 'malformed_receipt');
  });

  it('response not JSON', async () => {
    const client = proxied();
    proxy.tamper = () => '<html>';
    await rejects(client.append(decision()), VerificationError, 'malformed_receipt');
  });
});

describe('DeclogClient.checkpoint', () => {
  it('verifies and follows', async () => {
    const client = direct();
    const first = await client.checkpoint();
    await direct().append(decision());
    const second = await client.checkpoint();
    expect(second.size).toBeGreaterThan(first.size);
    expect(client.latest).toBe(second);
    expect(second.origin).toBe('test.example/log');
  });

  it('rollback', async () => {
    const client = proxied();
    const old = await client.checkpoint();
    await client.append(decision());
    proxy.stub = (path) =>
      path === '/checkpoint' ? { status: 200, body: old.signed, type: 'text/plain' } : undefined;
    const err = await rejects(client.checkpoint(), CheckpointConflictError, 'rollback');
    const conflict = err as CheckpointConflictError;
    expect(conflict.trusted.size).toBeGreaterThan(conflict.received.size);
  });

  it('fork of the same size', async () => {
    const client = proxied();
    const seen = await client.checkpoint();
    const fork = forge(seen.size, new Uint8Array(32).fill(7));
    proxy.stub = (path) =>
      path === '/checkpoint' ? { status: 200, body: fork, type: 'text/plain' } : undefined;
    await rejects(client.checkpoint(), CheckpointConflictError, 'inconsistent_checkpoints');
  });

  it('fork of a larger size', async () => {
    const client = proxied();
    const seen = await client.checkpoint();
    const [r] = await direct().append(decision());
    // The real log grew to r.treeSize; a fork signs that size with another root.
    const fork = forge(r!.treeSize, new Uint8Array(32).fill(9));
    proxy.stub = (path) =>
      path === '/checkpoint' ? { status: 200, body: fork, type: 'text/plain' } : undefined;
    const err = await rejects(
      client.checkpoint(),
      CheckpointConflictError,
      'inconsistent_checkpoints',
    );
    expect((err as CheckpointConflictError).trusted).toBe(seen);
  });

  it('empty log then growth', async () => {
    const fresh = await startLedger();
    try {
      const client = new DeclogClient({
        url: fresh.url,
        token: fresh.token,
        verifierKey: fresh.verifierKey,
      });
      expect((await client.checkpoint()).size).toBe(0);
      await client.append(decision());
      expect((await client.checkpoint()).size).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('unknown log key', async () => {
    const other = generateKey('test.example/log').verifierKey;
    await rejects(
      direct({ verifierKey: other }).checkpoint(),
      VerificationError,
      'no_known_signature',
    );
  });

  it('wrong origin', async () => {
    await rejects(
      direct({ origin: 'other.example/log' }).checkpoint(),
      VerificationError,
      'wrong_origin',
    );
  });
});

describe('DeclogClient proofs', () => {
  it('inclusion in latest', async () => {
    const client = direct();
    const p = await client.inclusionProof(1);
    expect(p.treeSize).toBe(client.latest?.size);
    const entry = await client.entry(1);
    expect(toHex(entry.leafHash)).toBe(toHex(p.leafHash));
  });

  it('inclusion at an older size', async () => {
    const client = direct();
    const latest = await client.checkpoint();
    const p = await client.inclusionProof(0, 3);
    expect(p.treeSize).toBe(3);
    expect(client.latest).toBe(latest);
  });

  it('inclusion tampered', async () => {
    const client = proxied();
    tamperJson('/v1/proof/inclusion', (b) => (b.leaf_hash = flipHex(b.leaf_hash)));
    await rejects(client.inclusionProof(1), VerificationError, 'root_mismatch');
  });

  it('inclusion past the size', async () => {
    await rejects(direct().inclusionProof(1_000_000), InputError, 'index_out_of_range');
  });

  it('consistency', async () => {
    const client = direct();
    const p = await client.consistencyProof(3);
    expect(p.oldCheckpoint.size).toBe(3);
    expect(p.checkpoint.size).toBe(client.latest?.size);
  });

  it('consistency tampered', async () => {
    const client = proxied();
    tamperJson('/v1/proof/consistency', (b) => {
      b.consistency_proof[0] = flipHex(b.consistency_proof[0]);
    });
    await rejects(client.consistencyProof(3), CheckpointConflictError, 'inconsistent_checkpoints');
  });

  it('consistency to an unsigned size', async () => {
    // Size 2 fell inside the first batch of three: no checkpoint was signed at it.
    await rejects(direct().consistencyProof(1, 2), NotFoundError, 'checkpoint_not_found');
  });
});

describe('DeclogReader', () => {
  it('entry', async () => {
    const e = await new DeclogReader({ url: ledger.url }).entry(0);
    expect(toHex(leafHash(e.entry))).toBe(toHex(e.leafHash));
    expect(toHex(encodeDecision(e.decision))).toBe(toHex(e.entry));
  });

  it('entry bytes tampered', async () => {
    proxied();
    tamperJson('/v1/entries/', (b) => {
      const bytes = Buffer.from(b.entry, 'base64');
      bytes[bytes.length - 1] ^= 1;
      b.entry = bytes.toString('base64');
    });
    await rejects(
      new DeclogReader({ url: proxyUrl }).entry(0),
      VerificationError,
      'entry_mismatch',
    );
  });

  it('entry decision tampered', async () => {
    proxied();
    tamperJson('/v1/entries/', (b) => (b.decision.kid = 'forged'));
    await rejects(
      new DeclogReader({ url: proxyUrl }).entry(0),
      VerificationError,
      'entry_mismatch',
    );
  });

  it('search', async () => {
    const client = direct();
    await client.append(decision({ kid: 'search-kid', key_domain: 'enterprise' }));
    await client.append(decision({ kid: 'search-kid' }));
    await ledger.server.ledger.indexed();
    const reader = new DeclogReader({ url: ledger.url });
    const page = await reader.search({ kid: 'search-kid', limit: 1 });
    expect(page.decisions).toHaveLength(1);
    expect(page.indexedSize).toBeGreaterThan(page.decisions[0]!.index);
    const next = await reader.search({ kid: 'search-kid', limit: 1, cursor: page.nextCursor });
    expect(next.decisions[0]!.index).toBeGreaterThan(page.decisions[0]!.index);
    const only = await reader.search({ kid: 'search-kid', key_domain: 'enterprise' });
    expect(only.decisions).toHaveLength(1);
  });

  it('search hit tampered', async () => {
    proxied();
    tamperJson('/v1/decisions', (b) => (b.decisions[0].decision.aud = 'forged'));
    await rejects(
      new DeclogReader({ url: proxyUrl }).search({}),
      VerificationError,
      'entry_mismatch',
    );
  });
});

describe('DeclogClient errors', () => {
  it('unreachable', async () => {
    const closed = new TamperProxy(ledger.url);
    const url = await closed.start();
    await closed.close();
    const err = await rejects(direct({ url }).checkpoint(), NetworkError, 'network_error');
    expect(err.message).toContain(url);
  });

  it('timeout', async () => {
    const client = proxied({ timeoutMs: 200 });
    proxy.stub = () => 'hang';
    await rejects(client.checkpoint(), NetworkError, 'timeout');
  });

  it('server error', async () => {
    const client = proxied();
    const body = JSON.stringify({ error: { code: 'storage_failed', message: 'retry later' } });
    proxy.stub = () => ({ status: 503, body });
    const err = await rejects(client.checkpoint(), NetworkError, 'server_error');
    expect(err.message).toContain('retry later');
  });

  it('4xx of a foreign server', async () => {
    const client = proxied();
    proxy.stub = () => ({ status: 404, body: '<html>not here</html>', type: 'text/html' });
    await rejects(client.checkpoint(), NetworkError, 'server_error');
  });

  it('bad options', () => {
    expect(() => direct({ url: 'ftp://127.0.0.1/' })).toThrow(InputError);
    expect(() => direct({ timeoutMs: 0 })).toThrow(InputError);
    expect(() => direct({ verifierKey: 'nonsense' })).toThrow(VerificationError);
  });
});
