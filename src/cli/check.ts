/**
 * `flowlens check`: every precondition, each on its own line, ending with the
 * real test: the BPF object loads through this kernel's verifier.
 */
import os from 'node:os';
import { existsSync } from 'node:fs';
import { hasKernelBtf, missingCapabilities, explainKernelError } from '../system/preflight.js';
import { loadAddon } from '../native/binding.js';
import { layoutDrift } from '../collector/layout.js';
import { DEFAULT_PACKET_RING_BYTES } from '../collector/config.js';
import { FlowlensError } from '../errors.js';
import { forwardingEnabled } from '../system/forwarding.js';

interface Check { name: string; ok: boolean; detail: string }

export async function checkCommand(format: string): Promise<number> {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

  add('kernel', true, `${os.type()} ${os.release()} (${os.arch()})`);
  add('bpf', existsSync('/sys/fs/bpf') || existsSync('/proc/sys/net/core/bpf_jit_enable'), 'BPF syscall and filesystem');
  add('btf', hasKernelBtf(), hasKernelBtf() ? '/sys/kernel/btf/vmlinux' : 'no /sys/kernel/btf/vmlinux: kernel built without CONFIG_DEBUG_INFO_BTF');
  const missing = missingCapabilities();
  add('privileges', missing.length === 0, missing.length ? `missing ${missing.join(', ')}: run as root` : 'CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON');
  let addon;
  try {
    addon = loadAddon();
    add('libbpf', true, `libbpf ${addon.libbpfVersion}`);
    const drift = layoutDrift(addon.layout);
    add('layout', drift.length === 0, drift.length ? drift.join('; ') : 'addon and decoder agree on bpf/flow.h');
  } catch (e) {
    add('addon', false, e instanceof FlowlensError ? e.message : String(e));
  }
  if (addon && missing.length === 0) {
    try {
      // with the packet capture code too, as flowlens run loads it
      const c = new addon.Collector(1024, undefined, undefined, DEFAULT_PACKET_RING_BYTES);
      c.close();
      add('verifier', true, 'flowlens_xdp, flowlens_tc_in, flowlens_tc_eg load');
    } catch (e) {
      add('verifier', false, explainKernelError(e, 'load').message);
    }
  } else {
    add('verifier', false, 'skipped: needs the addon and privileges');
  }

  if (forwardingEnabled()) {
    add('forwarding', true, 'this host forwards packets: on a gateway, give the counted interfaces roles (--iface wan0:wan,lan0:lan), ' +
      'or a forwarded packet is counted on each of them (docs/gateway.md)');
  }

  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  } else {
    for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(10)}  ${c.detail}\n`);
  }
  return checks.every((c) => c.ok) ? 0 : 1;
}
