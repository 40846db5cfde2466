/**
 * A real declog server checked by Go's reference implementation: the
 * program in test/interop/go verifies checkpoints with note.Open, proofs
 * with tlog.CheckRecord and tlog.CheckTree, and the C2SP tiles and entry
 * bundles through tlog.TileHashReader and tlog.TreeHash. Notes signed by
 * Go open in declog and notes signed by declog open in Go.
 *
 * In CI a missing Go toolchain fails these tests; elsewhere they are skipped
 * with the reason.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { startServer, type RunningServer } from '../../server/main.js';
import { formatCheckpoint, openCheckpoint } from '../../src/checkpoint.js';
import { generateCosignatureKey, newCosigner } from '../../src/cosignature.js';
import { initDataDir } from '../../src/data-dir.js';
import { sha256 } from '../../src/hash.js';
import {
  formatKeyId,
  generateKey,
  newSigner,
  newVerifier,
  openNote,
  signNote,
} from '../../src/note.js';
import { TILE_WIDTH, tileWidth } from '../../src/tiles.js';
import { decisionJSON } from '../support/decisions.js';
import { buildGo, goMissing, runGo } from './go-tool.js';

const ORIGIN = 'interop.example/declog';

/**
 * Decisions per request. The sizes reached are 1, 5, 42, 242, 256, 257,
 * 511, 512, 515 and 615: both sides of full level-0 tiles, and a level-1
 * partial tile of width 2 at the end.
 */
const BATCHES = [1, 4, 37, 200, 14, 1, 254, 1, 3, 100];

const missing = goMissing();

/** Skips outside CI with the reason; fails in CI, where .ci/run installs Go. */
function requireGo(ctx: TestContext): void {
  if (!missing) return;
  if (process.env.CI) throw new Error(`Go interop cannot run in CI: ${missing}`);
  ctx.skip(`Go interop skipped: ${missing}`);
}

interface SignedSize {
  size: number;
  note: string;
}

let dir: string;
let bin: string;
let server: RunningServer;
let verifierKey: string;
let checkpointsFile: string;
const signed: SignedSize[] = [];

/** Appends BATCHES over HTTP, one request each, keeping every checkpoint returned. */
async function appendBatches(token: string): Promise<void> {
  let n = 0;
  for (const count of BATCHES) {
    const decisions = Array.from({ length: count }, (_, i) => decisionJSON(n + i));
    const res = await fetch(`${server.url}/v1/decisions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ decisions }),
    });
    const body = (await res.json()) as { tree_size: number; checkpoint: string };
    if (res.status !== 200) throw new Error(`append of ${count}: ${JSON.stringify(body)}`);
    n += count;
    signed.push({ size: body.tree_size, note: body.checkpoint });
  }
}

beforeAll(async () => {
  if (missing) {
    console.warn(`Go interop: ${missing}`);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'declog-interop-'));
  bin = await buildGo(dir);
  const init = await initDataDir(join(dir, 'data'), ORIGIN);
  verifierKey = init.verifierKey;
  const logger = pino({ level: 'silent' });
  server = await startServer({ dataDir: join(dir, 'data'), host: '127.0.0.1', port: 0, logger });
  await appendBatches(init.token);
  checkpointsFile = join(dir, 'checkpoints.json');
  writeFileSync(checkpointsFile, JSON.stringify(signed));
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Counts the distinct tiles of all the trees. Each level-0 tile has an entry bundle. */
function distinctTiles(sizes: number[]): { hashTiles: number; bundles: number } {
  const tiles = new Set<string>();
  for (const size of sizes) {
    for (let level = 0; size >= TILE_WIDTH ** level; level++) {
      for (let index = 0; index * TILE_WIDTH ** (level + 1) < size; index++) {
        const width = tileWidth(size, level, index);
        if (width > 0) tiles.add(`${level}/${index}/${width}`);
      }
    }
  }
  const bundles = [...tiles].filter((t) => t.startsWith('0/')).length;
  return { hashTiles: tiles.size, bundles };
}

describe('go check', () => {
  it('server passes', async (ctx) => {
    requireGo(ctx);
    const res = await runGo(bin, [
      'check',
      '--checkpoints',
      checkpointsFile,
      server.url,
      verifierKey,
    ]);
    expect(res.json.error).toBeUndefined();
    expect(res.json).toMatchObject({ ok: true, tree_size: 615 });
    expect(res.code).toBe(0);
    const sizes = signed.map((s) => s.size);
    const { hashTiles, bundles } = distinctTiles(sizes);
    const r = res.json;
    expect(r.sizes).toEqual(sizes);
    expect({ tiles: r.hash_tiles, bundles: r.entry_bundles }).toEqual({
      tiles: hashTiles,
      bundles,
    });
    expect(r.tree_hashes).toBe(sizes.length);
    expect(r.tile_tree_hashes).toBe(sizes.length);
    expect(r.entries).toBe(615);
    expect(r.consistency_proofs).toBe((sizes.length * (sizes.length + 1)) / 2);
    expect(r.inclusion_proofs).toBeGreaterThanOrEqual(sizes.length * 5);
    expect(r.proofs_equal_to_go).toBe(r.inclusion_proofs + r.consistency_proofs);
  });

  it('sizes from proofs', async (ctx) => {
    requireGo(ctx);
    const res = await runGo(bin, ['check', '--sizes', '256,257,512', server.url, verifierKey]);
    expect(res.json.error).toBeUndefined();
    expect(res.json).toMatchObject({ ok: true, sizes: [256, 257, 512, 615] });
  });

  it('wrong key fails', async (ctx) => {
    requireGo(ctx);
    const other = generateKey(ORIGIN).verifierKey;
    const res = await runGo(bin, ['check', server.url, other]);
    expect({ code: res.code, ok: res.json.ok }).toEqual({ code: 1, ok: false });
    expect(res.json.error).toContain('note.Open');
  });

  it('tampered proof fails', async (ctx) => {
    requireGo(ctx);
    const target = '/v1/proof/inclusion?index=1&tree_size=615';
    const proxy = await startProxy(server.url, (path, body) =>
      path === target ? flipProofHash(body) : body,
    );
    try {
      const res = await runGo(bin, ['check', proxy.url, verifierKey]);
      expect(res.code).toBe(1);
      expect(res.json.error).toMatch(/inclusion proof of 1 in 615: tlog.CheckRecord/);
    } finally {
      await proxy.close();
    }
  });

  it('tampered tile fails', async (ctx) => {
    requireGo(ctx);
    const proxy = await startProxy(server.url, (path, body) =>
      path === '/tile/0/000' ? flipFirstByte(body) : body,
    );
    try {
      const res = await runGo(bin, ['check', proxy.url, verifierKey]);
      expect(res.code).toBe(1);
      expect(res.json.error).toContain('tile/0/000 differs');
    } finally {
      await proxy.close();
    }
  });
});

describe('go sign', () => {
  it('declog opens go note', async (ctx) => {
    requireGo(ctx);
    const text = 'interop.example/declog\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
    const res = await runGo(bin, ['sign', 'interop.example/go'], text);
    expect(res.code).toBe(0);
    const note = openNote(res.json.note, [newVerifier(res.json.verifier_key)]);
    expect(note.text).toBe(text);
    // Ed25519 is deterministic: the same key and text give Go's exact bytes.
    expect(signNote(text, [newSigner(res.json.signer_key)])).toBe(res.json.note);
  });

  it('unicode text', async (ctx) => {
    requireGo(ctx);
    const text = 'déclog — ✓\nline two\n';
    const res = await runGo(bin, ['sign', 'interop.example/go'], text);
    expect(openNote(res.json.note, [newVerifier(res.json.verifier_key)]).text).toBe(text);
  });
});

describe('go verify', () => {
  it('server checkpoint', async (ctx) => {
    requireGo(ctx);
    const note = await (await fetch(`${server.url}/checkpoint`)).text();
    const res = await runGo(bin, ['verify', verifierKey], note);
    const ours = openCheckpoint(note, newVerifier(verifierKey));
    expect(res.json).toEqual({
      ok: true,
      text: ours.note.text,
      sigs: [{ name: ORIGIN, key_id: formatKeyId(newVerifier(verifierKey).keyId) }],
      unverified_sigs: [],
    });
  });

  it('declog signed note', async (ctx) => {
    requireGo(ctx);
    const { signerKey, verifierKey: vkey } = generateKey('interop.example/ts');
    const note = signNote('hello from declog\n', [newSigner(signerKey)]);
    const res = await runGo(bin, ['verify', vkey], note);
    expect(res.json).toMatchObject({ ok: true, text: 'hello from declog\n' });
  });

  it('cosignature ignored', async (ctx) => {
    requireGo(ctx);
    const log = generateKey('interop.example/log');
    const witness = generateCosignatureKey('interop.example/witness');
    const cosigner = newCosigner(witness.signerKey, () => 1_700_000_000);
    const root = sha256(new Uint8Array(0));
    const text = formatCheckpoint({ origin: 'interop.example/log', size: 1, root, extensions: [] });
    const note = signNote(text, [newSigner(log.signerKey), cosigner]);
    const res = await runGo(bin, ['verify', log.verifierKey], note);
    // x/mod 0.7.0 has no verifier for type 0x04 keys, so the cosignature stays unverified.
    // TODO: verify cosignature/v1 in Go once an offline Go package verifies type 0x04 keys.
    expect(res.json.unverified_sigs).toEqual([
      { name: 'interop.example/witness', key_id: formatKeyId(cosigner.keyId) },
    ]);
    expect(res.json.sigs).toHaveLength(1);
  });

  it('tampered note fails', async (ctx) => {
    requireGo(ctx);
    const note = await (await fetch(`${server.url}/checkpoint`)).text();
    const res = await runGo(bin, ['verify', verifierKey], note.replace('615', '616'));
    expect({ code: res.code, error: res.json.error }).toEqual({
      code: 1,
      error: expect.stringContaining('invalid signature'),
    });
  });
});

type Tamper = (path: string, body: Uint8Array) => Uint8Array;

/** Starts a loopback proxy in front of `upstream` that lets `tamper` rewrite response bodies. */
async function startProxy(upstream: string, tamper: Tamper) {
  const proxy: Server = createServer((req, res) => {
    void (async () => {
      const up = await fetch(upstream + req.url);
      const body = tamper(req.url!, new Uint8Array(await up.arrayBuffer()));
      res.writeHead(up.status, { 'Content-Type': up.headers.get('content-type') ?? '' });
      res.end(body);
    })().catch((err: Error) => res.writeHead(502).end(err.message));
  });
  await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
  const { port } = proxy.address() as AddressInfo;
  const close = () => new Promise<void>((done) => proxy.close(() => done()));
  return { url: `http://127.0.0.1:${port}`, close };
}

/** Flips one bit of the first inclusion proof hash in a JSON proof response. */
function flipProofHash(body: Uint8Array): Uint8Array {
  const json = JSON.parse(new TextDecoder().decode(body));
  const first: string = json.inclusion_proof[0];
  json.inclusion_proof[0] = (parseInt(first[0]!, 16) ^ 1).toString(16) + first.slice(1);
  return new TextEncoder().encode(JSON.stringify(json));
}

function flipFirstByte(body: Uint8Array): Uint8Array {
  const out = body.slice();
  out[0]! ^= 1;
  return out;
}
