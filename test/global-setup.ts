/**
 * Builds dist/ with tsc once before the tests, so the tests that spawn
 * `node dist/cli/main.js` run the current sources. tsc still writes its
 * output when some file has a type error; the diagnostics are then printed
 * and the tests run against what it wrote.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const TSC = resolve(ROOT, 'node_modules/typescript/bin/tsc');
const CLI = resolve(ROOT, 'dist/cli/main.js');

export default function setup(): void {
  try {
    execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    const output = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
    console.warn(`tsc -p tsconfig.json reported errors:\n${output}`);
  }
  if (!existsSync(CLI)) throw new Error(`the build did not produce ${CLI}`);
}
