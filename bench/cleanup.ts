/**
 * Temporary folders and child processes of a benchmark run, removed and
 * stopped when the run ends, also after an error or a signal.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const folders = new Set<string>();
const children = new Set<ChildProcess>();

/** Creates a folder under the system temp folder that removeAll() deletes. */
export function makeTempDir(prefix = 'declog-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  folders.add(dir);
  return dir;
}

/** Deletes a folder made by makeTempDir now. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  folders.delete(dir);
}

/** Registers a child that killAll() kills if it is still running. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Kills the tracked children that are still running, with SIGKILL. */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/** Kills the tracked children and deletes every folder made by makeTempDir. */
export function removeAll(): void {
  killAll();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  folders.clear();
}

/** Cleans up on exit, and on SIGINT or SIGTERM before exiting with 130 or 143. */
export function cleanUpOnExit(): void {
  process.once('exit', removeAll);
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}
