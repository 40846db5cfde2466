/** Command line errors of the benchmark runner: a message and exit code 2, before any figure runs. */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUNNER = resolve(import.meta.dirname, '../../dist/bench/run.js');

function runBench(...args: string[]) {
  return spawnSync(process.execPath, [RUNNER, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('bench runner options', () => {
  it.each([
    [['--batch-in-flight', '0'], '--batch-in-flight 0: expected a whole number of requests, at least 1'],
    [['--batch-in-flight', '1.5'], '--batch-in-flight 1.5: expected a whole number of requests'],
    [['--readers=-1'], '--readers -1: expected a whole number of processes, at least 0'],
    [['--only', 'nope'], '--only nope: not a figure'],
  ])('rejects %j', (args, message) => {
    const result = runBench(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`bench: ${message}`);
    expect(result.stderr).not.toContain('    at ');
    expect(result.stdout).toBe('');
  });
});
