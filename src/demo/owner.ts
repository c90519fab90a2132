/**
 * Who made a demo network. Every demo writes a marker (owner.json) into its own
 * directory (os.tmpdir()/<namespace>) before it creates anything: the process that
 * made it (pid and its start time, so that a reused pid is not taken for it), that
 * process's PID namespace and the boot. The stale-demo sweep removes a demo only
 * when its marker says this boot and this PID namespace made it and that process is
 * gone: a demo started in another container (another PID namespace sharing this
 * network namespace list), or one whose marker cannot be read, is never touched.
 */
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DemoOwner {
  pid: number;
  /** The process's start time, in clock ticks since boot (/proc/PID/stat field 22). */
  started: string;
  /** "pid:[4026531836]": the PID namespace the pid belongs to. */
  pidNamespace: string;
  bootId: string;
  netns: string;
  iface: string;
}

export const MARKER = 'owner.json';

/** The demo's directory: the marker, and its history unless --data-dir says otherwise. */
export function demoDir(netns: string): string {
  return path.join(os.tmpdir(), netns);
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function self(): Pick<DemoOwner, 'pidNamespace' | 'bootId'> {
  return { pidNamespace: readlinkSync('/proc/self/ns/pid'), bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() };
}

export function writeOwner(dir: string, netns: string, iface: string): void {
  const owner: DemoOwner = { pid: process.pid, started: processStart(process.pid) ?? '', ...self(), netns, iface };
  writeFileSync(path.join(dir, MARKER), `${JSON.stringify(owner)}\n`, { flag: 'wx' });
}

export function readOwner(dir: string): DemoOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path.join(dir, MARKER), 'utf8')) as DemoOwner;
    return typeof o.pid === 'number' && typeof o.pidNamespace === 'string' && typeof o.bootId === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** True only for a demo this boot's flowlens made in this PID namespace whose process is gone. */
export function abandoned(owner: DemoOwner): boolean {
  const me = self();
  if (owner.bootId !== me.bootId || owner.pidNamespace !== me.pidNamespace) return false;
  return processStart(owner.pid) !== owner.started;
}
