/**
 * EntryBuffer copies the entries of one request into shared chunks: each
 * copy keeps its bytes after later ones, and a full chunk starts a new one.
 */
import { describe, expect, it } from 'vitest';
import { EntryBuffer, decodeDecision, submittedFromJSON } from '../../src/decision.js';
import { decisions } from '../support/decisions.js';

const bytesOf = (length: number, fill: number) => new Uint8Array(length).fill(fill);

describe('EntryBuffer', () => {
  it('keeps each copy intact', () => {
    const buffer = new EntryBuffer(10);
    const copies = [bytesOf(4, 1), bytesOf(4, 2), bytesOf(4, 3), bytesOf(25, 4), bytesOf(3, 5)].map(
      (b) => buffer.copy(b),
    );
    expect(copies.map((c) => [c.length, ...new Set(c)])).toEqual([
      [4, 1],
      [4, 2],
      [4, 3],
      [25, 4],
      [3, 5],
    ]);
    // The first two share a chunk, and the third did not fit, so it started another.
    expect(copies[0]!.buffer).toBe(copies[1]!.buffer);
    expect(copies[2]!.buffer).not.toBe(copies[1]!.buffer);
    // A copy longer than a chunk gets a chunk of its own size.
    expect(copies[3]!.buffer.byteLength).toBe(25);
  });

  it('holds the same entries as separate copies', () => {
    const values = decisions(0, 20).map(({ validator: _, ...d }) => ({
      ...d,
      token_hash: d.token_hash ? Buffer.from(d.token_hash).toString('hex') : undefined,
    }));
    const buffer = new EntryBuffer(512);
    for (const value of values) {
      const shared = submittedFromJSON(JSON.parse(JSON.stringify(value)), 'tester', buffer);
      const alone = submittedFromJSON(JSON.parse(JSON.stringify(value)), 'tester');
      expect(shared.entry).toEqual(alone.entry);
      expect(decodeDecision(shared.entry)).toEqual(shared.decision);
    }
  });
});
