/**
 * What must hold before the kernel is asked to load anything, checked up front
 * so that each failure is one clear sentence instead of an errno.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { FlowlensError } from '../errors.js';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** The effective capability set of this process. */
export function effectiveCapabilities(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** Capabilities flowlens lacks, by name (empty when it can run). */
export function missingCapabilities(caps = effectiveCapabilities()): string[] {
  const has = (c: bigint) => (caps & (1n << c)) !== 0n;
  const missing: string[] = [];
  // CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (and on kernels before 5.8 is required)
  if (!has(CAP_BPF) && !has(CAP_SYS_ADMIN)) missing.push('CAP_BPF');
  if (!has(CAP_NET_ADMIN)) missing.push('CAP_NET_ADMIN');
  if (!has(CAP_PERFMON) && !has(CAP_SYS_ADMIN)) missing.push('CAP_PERFMON');
  return missing;
}

export function hasKernelBtf(): boolean {
  return existsSync('/sys/kernel/btf/vmlinux');
}

/** Throws the first reason flowlens cannot load its programs here. */
export function preflight(): void {
  const missing = missingCapabilities();
  if (missing.length > 0) {
    throw new FlowlensError('FLOW_ERR_PERMISSION',
      `flowlens needs root or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; this process lacks ${missing.join(', ')}`,
      'run it as root (sudo), or grant the capabilities: see deploy/flowlens.service');
  }
  if (!existsSync('/proc/sys/net/core/bpf_jit_enable') && !existsSync('/sys/fs/bpf')) {
    throw new FlowlensError('FLOW_ERR_NO_BPF', `this kernel (${os.release()}) has no BPF support`,
      'flowlens needs Linux 5.10 or later built with CONFIG_BPF_SYSCALL');
  }
  if (!hasKernelBtf()) {
    throw new FlowlensError('FLOW_ERR_NO_BTF', `this kernel (${os.release()}) has no BTF (/sys/kernel/btf/vmlinux is missing)`,
      'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution ships one)');
  }
}

interface NativeError { code?: string; errno?: number; message: string }

/** Turns an addon error into a FlowlensError with the right code and advice. */
export function explainKernelError(e: unknown, what: string): FlowlensError {
  if (e instanceof FlowlensError) return e;
  const err = e as NativeError;
  const msg = err?.message ?? String(e);
  switch (err?.errno) {
    // before the verifier match: libbpf prints the log of an interrupted load too, and that is no rejection
    case 4: // EINTR
    case 11: // EAGAIN: the verifier stops whenever a signal is pending (the addon has already retried)
      return new FlowlensError('FLOW_ERR_INTERRUPTED',
        `${what} (interrupted by signals, not rejected by the verifier): ${msg.split('\n')[0]}`,
        'run it again; if a profiler or a timer sends this process signals at a high rate (node --cpu-prof, perf record), lower its rate or start it after flowlens has loaded');
    case 1: // EPERM
      return new FlowlensError('FLOW_ERR_PERMISSION', `${what}: permission denied. ${msg}`,
        'run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON');
    case 38: // ENOSYS
      return new FlowlensError('FLOW_ERR_NO_BPF', `${what}: this kernel has no bpf() system call`,
        'use a kernel built with CONFIG_BPF_SYSCALL=y');
  }
  if (err?.code === 'FLOW_ERR_ALREADY_ATTACHED') return new FlowlensError('FLOW_ERR_ALREADY_ATTACHED', msg);
  if (err?.code === 'FLOW_ERR_XDP_BUSY') return new FlowlensError('FLOW_ERR_XDP_BUSY', msg);
  if (/PROG LOAD LOG|verifier/i.test(msg)) {
    return new FlowlensError('FLOW_ERR_VERIFIER', `${what}: the kernel's verifier rejected the program:\n${msg}`,
      'please report this with the log above and `uname -r`');
  }
  return new FlowlensError('FLOW_ERR_KERNEL', `${what}: ${msg}`);
}
