/** The machine a benchmark runs on: CPU model, cores and load, read from /proc and os. */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  /** Load averages over 1, 5 and 15 minutes. */
  loadAverage: [number, number, number];
  memoryGiB: number;
  node: string;
}

/** Returns the `model name` of /proc/cpuinfo, or the one node:os reports. */
function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: fall back to node:os.
  }
  return cpus()[0]?.model ?? 'unknown';
}

/** Reads the machine's CPU, cores, memory and current load average. */
export function machineInfo(): MachineInfo {
  const [one, five, fifteen] = loadavg();
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    loadAverage: [one ?? 0, five ?? 0, fifteen ?? 0],
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
  };
}

/** Formats the load averages as `1.23 2.34 3.45`. */
export function formatLoad(load: readonly number[]): string {
  return load.map((l) => l.toFixed(2)).join(' ');
}

/** Returns the resident set size of a process in bytes, from VmRSS in /proc/<pid>/status. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith('VmRSS:'));
  const kib = line ? Number(line.split(/\s+/)[1]) : NaN;
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS line in /proc/${pid}/status`);
  return kib * 1024;
}

/** Clock ticks per second of the times in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** Returns the IDs of the live child processes of a process (zombies excluded), read from /proc. */
export function childPids(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses: the state, then the parent's ID.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') found.push(Number(name));
    } catch {
      // The process exited while being read.
    }
  }
  return found;
}

/**
 * Returns `measure` summed over a process and its live children, such as a
 * server and its reader processes.
 */
export function sumOverProcessTree(pid: number, measure: (pid: number) => number): number {
  let total = measure(pid);
  for (const child of childPids(pid)) {
    try {
      total += measure(child);
    } catch {
      // The child exited between the listing and the read.
    }
  }
  return total;
}

/** Returns the CPU time (user + system) that a process has used so far, in seconds. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`cannot read the CPU times in /proc/${pid}/stat`);
  }
  return (utime + stime) / USER_HZ;
}
