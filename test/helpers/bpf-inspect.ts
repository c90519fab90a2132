/**
 * What is attached where, seen from outside the addon: bpftool for XDP and
 * legacy TC, and /proc/<pid>/fdinfo for the BPF links and programs a process
 * holds (bpftool 7.1 cannot list TCX attachments by device; fdinfo names the
 * link's type, program and ifindex).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

function bpftool(...args: string[]): unknown {
  return JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

export function progName(id: number): string | undefined {
  try {
    return (bpftool('prog', 'show', 'id', String(id)) as { name?: string }).name;
  } catch {
    return undefined; // gone
  }
}

export interface NetEntry {
  /** 'xdp', or bpftool's TC kind: 'tcx/ingress', 'tcx/egress', 'clsact/ingress', ... */
  kind: string;
  /** Program id. */
  id: number;
  name?: string;
  /** XDP: 'driver', 'generic', ... */
  mode?: string;
}

/**
 * XDP and TC programs on a device, with their names. bpftool before 7.3 lists
 * no TCX attachments here (only XDP and legacy TC); later versions list them.
 */
export function netShow(dev: string): NetEntry[] {
  type Tc = { id?: number; prog_id?: number; name?: string; kind?: string };
  const [r] = bpftool('net', 'show', 'dev', dev) as { xdp?: { id: number; mode?: string }[]; tc?: Tc[] }[];
  const out: NetEntry[] = [];
  for (const x of r?.xdp ?? []) out.push({ kind: 'xdp', id: x.id, mode: x.mode, name: progName(x.id) });
  for (const x of r?.tc ?? []) {
    const id = x.prog_id ?? x.id ?? 0;
    out.push({ kind: x.kind ?? 'tc', id, name: x.name ?? progName(id) });
  }
  return out;
}

export function flowlensOn(dev: string): NetEntry[] {
  return netShow(dev).filter((e) => e.name?.startsWith('flowlens_'));
}

export function linkIds(): Set<number> {
  return new Set((bpftool('link', 'show') as { id: number }[]).map((l) => l.id));
}

export function progIds(): Set<number> {
  return new Set((bpftool('prog', 'show') as { id: number }[]).map((p) => p.id));
}

export interface HeldLink { id: number; type: string; progId: number; ifindex?: number; attachType?: number }

/** BPF programs and links a process holds open. */
export function bpfHeldBy(pid: number | 'self'): { progIds: number[]; links: HeldLink[] } {
  const progs: number[] = [];
  const links: HeldLink[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(info)?.[1];
    if (target === 'anon_inode:bpf-prog') progs.push(Number(field('prog_id')));
    if (target === 'anon_inode:bpf_link') {
      const ifindex = field('ifindex');
      const attachType = field('attach_type');
      links.push({
        id: Number(field('link_id')),
        type: field('link_type') ?? '?',
        progId: Number(field('prog_id')),
        ...(ifindex !== undefined ? { ifindex: Number(ifindex) } : {}),
        ...(attachType !== undefined ? { attachType: Number(attachType) } : {}),
      });
    }
  }
  return { progIds: progs, links };
}

export async function until(cond: () => boolean, timeoutMs = 5000, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
