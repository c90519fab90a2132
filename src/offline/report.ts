/**
 * `flowlens analyze --report FILE.html`: one self-contained page a person can
 * send to a colleague. Nothing is fetched: uPlot (its script and styles, from
 * node_modules/uplot/dist) and the data are inlined; the protocol donut is
 * SVG drawn here. Sections: totals and time span, traffic over time (uPlot),
 * protocols (donut), top talkers (remote, local, services), countries,
 * domains, the largest sessions, notes on the files.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../native/binding.js';
import type { AnalysisJson } from './analysis.js';
import type { TalkerTotal } from '../flows/talkers.js';

const COLOURS = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function bytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return `${i ? n.toFixed(2) : n} ${u[i]}`;
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

/** The protocol distribution as an SVG donut, with a legend. */
function donut(rows: TalkerTotal[], other: TalkerTotal): string {
  const parts = [...rows, ...(other.bytes ? [{ ...other, key: 'other' }] : [])].filter((r) => r.bytes > 0);
  const total = parts.reduce((n, r) => n + r.bytes, 0);
  if (!total) return '<p>No IP traffic.</p>';
  const r = 80;
  const c = 2 * Math.PI * r;
  let at = 0;
  const arcs = parts.map((p, i) => {
    const len = (p.bytes / total) * c;
    const arc = `<circle class="slice" data-key="${esc(p.key)}" r="${r}" cx="100" cy="100" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="36" stroke-dasharray="${len} ${c - len}" stroke-dashoffset="${-at}"><title>${esc(p.key)}: ${bytes(p.bytes)}</title></circle>`;
    at += len;
    return arc;
  });
  const legend = parts.map((p, i) => `<li><span class="swatch" style="background:${COLOURS[i % COLOURS.length]}"></span>${esc(p.key)} — ${bytes(p.bytes)} (${((p.bytes / total) * 100).toFixed(1)}%)</li>`);
  return `<div class="donut"><svg id="protocols" viewBox="0 0 200 200" width="220" height="220" transform="rotate(-90)">${arcs.join('')}</svg><ul>${legend.join('')}</ul></div>`;
}

function talkerTable(id: string, title: string, cut: { rows: TalkerTotal[]; other: TalkerTotal; total: TalkerTotal }): string {
  if (!cut.rows.length) return '';
  const row = (r: TalkerTotal, name: string) => `<tr><td>${esc(name)}</td><td>${bytes(r.bytesUp)}</td><td>${bytes(r.bytesDown)}</td><td>${r.packetsUp + r.packetsDown}</td><td>${r.connections}</td><td>${cut.total.bytes ? ((r.bytes / cut.total.bytes) * 100).toFixed(1) : '0'}%</td></tr>`;
  const rows = cut.rows.map((r) => row(r, r.label && id !== 'domains' ? `${r.key} (${r.label})` : r.key));
  if (cut.other.bytes) rows.push(row(cut.other, '(other)'));
  return `<section><h2>${esc(title)}</h2><table id="${id}"><thead><tr><th>key</th><th>up</th><th>down</th><th>packets</th><th>sessions</th><th>share</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

export function htmlReport(j: AnalysisJson): string {
  const dist = path.join(repoRoot, 'node_modules/uplot/dist');
  const uplotJs = readFileSync(path.join(dist, 'uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(path.join(dist, 'uPlot.min.css'), 'utf8');
  const t = j.totals;
  const series = {
    t: j.series.map((p) => p.start / 1000),
    up: j.series.map((p) => (p.bytesUp * 8) / Math.max((p.end - p.start) / 1000, 0.001)),
    down: j.series.map((p) => (p.bytesDown * 8) / Math.max((p.end - p.start) / 1000, 0.001)),
  };
  const sessions = j.sessions.top.slice(0, 50).map((s) => `<tr><td>${esc(s.protocolName)}</td><td>${esc(s.local)}${s.localPort ? `:${s.localPort}` : ''}</td><td>${esc(s.remote)}${s.remotePort ? `:${s.remotePort}` : ''}${s.domain ? ` (${esc(s.domain)})` : ''}</td><td>${esc(s.state)}</td><td>${bytes(s.bytesUp)}</td><td>${bytes(s.bytesDown)}</td><td>${esc(time(s.firstSeen))}</td><td>${esc(time(s.lastSeen))}</td></tr>`);
  const notes = j.files.flatMap((f) => [
    `${esc(f.name)}: ${f.format}${f.compressed ? ' (gzip)' : ''}, ${f.records} records, ${f.interfaces.map((i) => `${esc(i.name ?? `interface ${i.index}`)} ${esc(i.linkTypeName)}`).join(', ')}`,
    ...(f.truncatedAt !== undefined ? [`${esc(f.name)} is truncated: analyzed up to byte ${f.truncatedAt}`] : []),
    ...(f.tooLong.packets ? [`${f.tooLong.packets} frames over ${f.tooLong.limit} bytes not counted`] : []),
    ...f.comments.map((c) => `comment: ${esc(c)}`),
  ]);
  const local = j.local.source === 'private ranges' ? 'the private ranges (no --local and no networks.local setting)' : esc(j.local.networks.join(', '));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>flowlens analysis — ${esc(j.files.map((f) => path.basename(f.name)).join(', '))}</title>
<style>${uplotCss}
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f;max-width:1200px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%}td,th{padding:3px 8px;border-bottom:1px solid #e5e5e5;text-align:right}td:first-child,th:first-child{text-align:left}
.cards{display:flex;gap:16px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px}.card b{display:block;font-size:18px}
.donut{display:flex;align-items:center;gap:24px}.donut ul{list-style:none;padding:0}.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;border-radius:2px}
.notes{color:#555}
</style></head><body>
<h1>flowlens analysis</h1>
<p class="notes">${notes.join('<br>')}<br>time span: ${j.span ? `${esc(time(j.span.first))} — ${esc(time(j.span.last))}` : 'no packets'}<br>local: ${local}</p>
<div class="cards" id="totals">
<div class="card">IP packets<b>${t.packets}</b></div><div class="card">IP bytes (L3)<b>${bytes(t.bytes)}</b></div>
<div class="card">sessions<b>${j.sessions.ended}</b></div><div class="card">non-IP frames<b>${t.nonIpPackets}</b></div>
<div class="card">malformed frames<b>${t.malformedPackets}</b></div>${t.overflowPackets ? `<div class="card">overflow packets<b>${t.overflowPackets}</b></div>` : ''}
</div>
<section><h2>Traffic over time</h2><div id="traffic"></div></section>
<section><h2>Protocols</h2>${donut(j.talkers.proto.rows, j.talkers.proto.other)}</section>
${talkerTable('remotes', 'Top remote addresses', j.talkers.ip)}
${talkerTable('locals', 'Top local addresses', j.talkers.host)}
${talkerTable('services', 'Top services', j.talkers.port)}
${talkerTable('countries', 'Countries', j.talkers.country)}
${talkerTable('asns', 'Networks (ASN)', j.talkers.asn)}
${talkerTable('domains', 'Domains', j.talkers.domain)}
<section><h2>Largest sessions (${j.sessions.ended} in all)</h2><table id="sessions"><thead><tr><th>proto</th><th>local</th><th>remote</th><th>state</th><th>up</th><th>down</th><th>first</th><th>last</th></tr></thead><tbody>${sessions.join('')}</tbody></table></section>
<script>${uplotJs}</script>
<script>
const s = ${JSON.stringify(series).replace(/</g, '\\u003c')};
const fmt = (v) => v == null ? '' : v >= 1e9 ? (v / 1e9).toFixed(1) + ' Gb/s' : v >= 1e6 ? (v / 1e6).toFixed(1) + ' Mb/s' : v >= 1e3 ? (v / 1e3).toFixed(1) + ' kb/s' : v.toFixed(0) + ' b/s';
const el = document.getElementById('traffic');
window.trafficChart = new uPlot({
  width: Math.min(el.clientWidth || 1100, 1150), height: 280, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'UTC'),
  series: [{}, { label: 'up', stroke: '#4269d0', width: 1.5, value: (u, v) => fmt(v) }, { label: 'down', stroke: '#ff725c', width: 1.5, value: (u, v) => fmt(v) }],
  axes: [{}, { values: (u, vals) => vals.map(fmt), size: 80 }],
}, [s.t, s.up, s.down], el);
</script>
</body></html>
`;
}
