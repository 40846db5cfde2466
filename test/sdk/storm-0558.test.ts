import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StormSummary } from '../../cli/commands/storm-0558.js';

const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

describe('storm-0558 replay', () => {
  it('logs every forged accept', () => {
    const args = [CLI, 'storm-0558', '--count', '60', '--json'];
    const stdout = execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
    const s = JSON.parse(stdout) as StormSummary;
    // Request i is forged when i % 5 === 1 and i % 10 !== 9: 12 of 60.
    expect(s.forged).toBe(12);
    expect(s.flawed.forgedAccepted).toBe(12);
    expect(s.gated.forgedAccepted).toBe(0);
    expect(s.ledger.forgedAcceptsLogged).toBe(12);
    expect(s.ledger.forgedAcceptsProven).toBe(12);
    expect(s.ledger.gateRejectReasons).toEqual({ 'reject key_domain_mismatch': 12 });
    // Every request leaves one decision per relying party.
    expect(s.ledger.treeSize).toBe(120);
    expect(s.firstForgedAcceptToCheckpointMs).toBeGreaterThan(0);
  });
});
