/**
 * `flowlens reconcile`: asks the running flowlens (its JSON API,
 * GET /api/reconcile) for each interface's kernel counters beside flowlens's
 * totals, and prints them with the difference explained term by term
 * (docs/reconcile.md). Only the running process knows both sides over the same
 * span, so this command reads no database.
 */
import { FlowlensError } from '../errors.js';
import type { DirectionReconciliation, InterfaceReconciliation } from '../collector/index.js';
import { table } from './format.js';

export interface ReconcileAnswer {
  host: string;
  interfaces: InterfaceReconciliation[];
}

const num = (n: number) => n.toLocaleString('en-US');
const signed = (n: number) => (n > 0 ? `+${num(n)}` : num(n));

function directionTable(label: string, d: DirectionReconciliation): string {
  const rows: string[][] = d.terms.filter((t) => t.packets !== 0 || t.bytes !== 0 || t.term === 'flows')
    .map((t) => [`  ${t.term}`, signed(t.packets), signed(t.bytes), t.why]);
  rows.push(['  = expected', num(d.expected.packets), num(d.expected.bytes), 'what the kernel should count, from flowlens\'s side']);
  rows.push(['  kernel', num(d.kernel.packets), num(d.kernel.bytes), `the interface's own counters (dropped ${num(d.kernel.dropped)}, errors ${num(d.kernel.errors)})`]);
  rows.push(['  unexplained', signed(d.unexplained.packets), signed(d.unexplained.bytes),
    d.unexplained.packets === 0 && d.unexplained.bytes === 0 ? 'every packet and byte explained' : 'kernel − expected: see docs/reconcile.md']);
  const notes = d.notes.filter((n) => n.packets > 0).map((n) => `  note: ${n.term} ${num(n.packets)}: ${n.why}`);
  return `${label}\n${table(['', 'packets', 'bytes', ''], rows, [1, 2])}\n${notes.length ? `${notes.join('\n')}\n` : ''}`;
}

/** The table form: per interface, both directions since the attach. */
export function renderReconcile(a: ReconcileAnswer): string {
  if (!a.interfaces.length) return `${a.host}: no interface attached (nothing to reconcile)\n`;
  return a.interfaces.map((i) => {
    const head = `${i.iface} (ifindex ${i.ifindex}${i.kind ? `, ${i.kind}` : ''}, ${i.ingressHook}/${i.egressHook}) since ${new Date(i.since).toISOString()}: ` +
      `${i.explained ? 'every packet and byte explained' : 'a difference is left (see "unexplained")'}`;
    const before = `  before flowlens attached the kernel had counted rx ${num(i.kernelBeforeAttach.rxPackets)} packets / ${num(i.kernelBeforeAttach.rxBytes)} bytes, ` +
      `tx ${num(i.kernelBeforeAttach.txPackets)} / ${num(i.kernelBeforeAttach.txBytes)} (in neither side below)`;
    return `${head}\n${before}\n${directionTable('ingress (rx)', i.sinceAttach.ingress)}${directionTable('egress (tx)', i.sinceAttach.egress)}`;
  }).join('\n');
}

/** GET /api/reconcile of the running flowlens at `url`, with a bearer token when given. */
export async function fetchReconcile(url: string, token: string | undefined): Promise<ReconcileAnswer> {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new FlowlensError('FLOW_ERR_USAGE', `--url must be the running flowlens's HTTP address such as http://127.0.0.1:8080, not "${url}"`);
  }
  const target = new URL('/api/reconcile', base);
  let res: Response;
  try {
    res = await fetch(target, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new FlowlensError('FLOW_ERR_USAGE', `cannot reach flowlens at ${base.origin}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`,
      'is `flowlens run` running? give its address with --url (api.listen and api.httpPort)');
  }
  if (res.status === 401 || res.status === 403) {
    throw new FlowlensError('FLOW_ERR_USAGE', `flowlens at ${base.origin} refused the call (${res.status})`, 'give a read token with --token or FLOWLENS_TOKEN');
  }
  if (!res.ok) throw new FlowlensError('FLOW_ERR_USAGE', `flowlens at ${base.origin} answered ${res.status} to ${target.pathname}: ${await res.text()}`);
  return (await res.json()) as ReconcileAnswer;
}
