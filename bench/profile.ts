/**
 * Summarises a V8 CPU profile (.cpuprofile, written by node --cpu-prof):
 * the functions with the most self time, with their share of all samples.
 *
 * Run: node dist/bench/profile.js FILE.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  /** Function name, file and 1-based line, such as `leafHash dist/src/hash.js:29`. */
  name: string;
  selfMs: number;
  /** Share of all sampled time, 0 to 1. */
  share: number;
}

function frameName(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.startsWith(root) ? url.slice(root.length) : url;
  const where = file === '' ? '' : ` ${file}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

/** Returns the `top` functions by self time; `root` is cut from the start of file URLs. */
export function hotSpots(profile: CpuProfile, top = 15, root = ''): HotSpot[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const name = frameName(node, root);
    selfUs.set(name, (selfUs.get(name) ?? 0) + delta);
    totalUs += delta;
  });
  return [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: totalUs === 0 ? 0 : us / totalUs }));
}

/** Reads a .cpuprofile file and returns its hot spots. */
export function readHotSpots(file: string, top = 15): HotSpot[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const root = pathToFileURL(process.cwd()).href + '/';
  return hotSpots(profile, top, root);
}

/** Formats hot spots one per line: share, self milliseconds, function. */
export function formatHotSpots(spots: HotSpot[]): string {
  return spots
    .map(
      (s) =>
        `${(s.share * 100).toFixed(1).padStart(5)}%  ${s.selfMs.toFixed(0).padStart(7)} ms  ${s.name}`,
    )
    .join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, top] = process.argv.slice(2);
  if (file === undefined) {
    console.error('usage: node dist/bench/profile.js FILE.cpuprofile [top]');
    process.exit(2);
  }
  console.log(formatHotSpots(readHotSpots(file, top === undefined ? 15 : Number(top))));
}
