/**
 * SHA-256 and Ed25519 throughput on one core: @noble/hashes and
 * @noble/ed25519 (the portable code the SDK and verifiers use) against
 * node:crypto (OpenSSL, which the server switches to with useNodeCrypto).
 *
 * Run: npm run build && node dist/bench/crypto.js
 */
import * as ed from '@noble/ed25519';
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2.js';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { opsPerSecond } from './stats.js';

// noble needs a synchronous SHA-512 for ed.sign and ed.verify.
ed.hashes.sha512 ??= sha512;

/** Operations per second of one operation, portable code against node:crypto. */
export interface CryptoFigure {
  name: string;
  noblePerSecond: number;
  nodePerSecond: number;
}

/** DER prefixes of Ed25519 PKCS #8 private and SPKI public keys (RFC 8410 sections 7 and 4). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A message of checkpoint size: origin, a 7-digit size and a base64 root, about 80 bytes. */
const MESSAGE = new TextEncoder().encode(
  'declog.bench/log\n1000000\nq4Gl9Ue3jGZ1nX2k4p8uLw0r5s6t7u8v9w0x1y2z3A4=\n',
);

function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + 7) & 0xff);
}

function nodeSha256(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

function shaFigure(bytes: number, ms: number): CryptoFigure {
  const data = pattern(bytes);
  return {
    name: `SHA-256 of ${bytes} bytes`,
    noblePerSecond: opsPerSecond(() => nobleSha256(data), ms),
    nodePerSecond: opsPerSecond(() => nodeSha256(data), ms),
  };
}

function ed25519Figures(ms: number): CryptoFigure[] {
  const seed = pattern(32);
  const publicKey = ed.getPublicKey(seed);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const nodePublic = createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  const signature = ed.sign(MESSAGE, seed);
  if (!nodeVerify(null, MESSAGE, nodePublic, signature)) {
    throw new Error('node:crypto rejects the signature @noble/ed25519 made: the keys differ');
  }
  return [
    {
      name: 'Ed25519 sign',
      noblePerSecond: opsPerSecond(() => ed.sign(MESSAGE, seed), ms, 16),
      nodePerSecond: opsPerSecond(() => nodeSign(null, MESSAGE, privateKey), ms, 16),
    },
    {
      name: 'Ed25519 verify',
      noblePerSecond: opsPerSecond(() => ed.verify(signature, MESSAGE, publicKey), ms, 16),
      nodePerSecond: opsPerSecond(() => nodeVerify(null, MESSAGE, nodePublic, signature), ms, 16),
    },
  ];
}

/** Measures each operation for `ms` milliseconds per implementation, after a short warm-up. */
export function benchCrypto(ms = 2000): CryptoFigure[] {
  shaFigure(64, 100);
  ed25519Figures(100);
  return [shaFigure(64, ms), shaFigure(300, ms), ...ed25519Figures(ms)];
}

/** Names the faster implementation and by how much, such as `node:crypto 3.1x`. */
export function faster(f: CryptoFigure): string {
  const nodeWins = f.nodePerSecond >= f.noblePerSecond;
  const ratio = nodeWins ? f.nodePerSecond / f.noblePerSecond : f.noblePerSecond / f.nodePerSecond;
  return `${nodeWins ? 'node:crypto' : '@noble'} ${ratio.toFixed(1)}x`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const f of benchCrypto()) {
    const rates = `noble ${Math.round(f.noblePerSecond)}/s, node ${Math.round(f.nodePerSecond)}/s`;
    console.log(`${f.name}: ${rates}, faster: ${faster(f)}`);
  }
}
