import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as declog from '../../src/index.js';

const INDEX = resolve(import.meta.dirname, '../../src/index.ts');

/** Packages the public surface may use: each runs in browsers. */
const PORTABLE_PACKAGES = ['@noble/ed25519', '@noble/hashes', 'cbor-x', 'jose'];

/** Every module specifier of a TypeScript file, type-only imports included. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g);
  return [...found].map((m) => m[1]!);
}

/** The files reachable from src/index.ts and the packages they import. */
function importGraph(): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(INDEX);
  return { files, packages };
}

describe('public surface', () => {
  it('imports no Node.js module', () => {
    const { packages } = importGraph();
    for (const name of packages) {
      expect(
        PORTABLE_PACKAGES.some((p) => name === p || name.startsWith(`${p}/`)),
        name,
      ).toBe(true);
    }
  });

  it('reaches no server, store or data folder', () => {
    const { files } = importGraph();
    const root = resolve(import.meta.dirname, '../..');
    const reached = [...files].map((f) => f.slice(root.length + 1));
    expect(reached).toContain('src/client.ts');
    expect(reached.filter((f) => !f.startsWith('src/'))).toEqual([]);
    for (const banned of [
      'src/store/',
      'src/data-dir.ts',
      'src/ledger.ts',
      'src/keys.ts',
      'src/tokens.ts',
    ]) {
      expect(reached.filter((f) => f.startsWith(banned))).toEqual([]);
    }
  });

  it('exports the client and verifiers', () => {
    for (const name of [
      'DeclogClient',
      'DeclogReader',
      'VerificationError',
      'encodeDecision',
      'openCheckpoint',
      'verifyInclusion',
      'verifyConsistency',
      'parseTlogProof',
      'formatTlogProof',
      'leafHash',
    ]) {
      expect(typeof (declog as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
