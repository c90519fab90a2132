/**
 * The Grafana dashboards in deploy/grafana/dashboards: each parses as JSON,
 * every query (panels and variables) is valid Flux by Flux's own parser and
 * semantic check (@influxdata/flux-lsp-node), and names only measurements,
 * fields, tags and talker dimensions that the InfluxDB sink writes (the schema
 * constants); every panel filters by the host variable and uses the
 * provisioned data source. A mutated query makes the checker complain, so the
 * check can fail.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Flux, parse as parseFlux } from '@influxdata/flux-lsp-node';
import { repoRoot } from '../../src/native/binding.js';
import { SCHEMA, type Measurement } from '../../src/sinks/influx/index.js';
import { TALKER_DIMENSIONS } from '../../src/flows/types.js';

const dir = path.join(repoRoot, 'deploy/grafana/dashboards');
const datasourceUid = (parseYaml(readFileSync(path.join(repoRoot, 'deploy/grafana/provisioning/datasources/flowlens.yaml'), 'utf8')) as
  { datasources: { uid: string }[] }).datasources[0].uid;

// Flux AST nodes, as far as this check reads them
interface Node { type?: string; [k: string]: unknown }

/** What Grafana puts in before the query runs: its variables, and the v record of its Flux data source. */
function asGrafanaRuns(query: string): string {
  const text = query.replace(/\$\{(\w+):regex\}/g, '.*');
  const v = 'v = {timeRangeStart: -1h, timeRangeStop: now(), windowPeriod: 10s, defaultBucket: "flowlens"}';
  const lines = text.split('\n');
  const imports = lines.filter((l) => l.startsWith('import '));
  return [...imports, v, ...lines.filter((l) => !l.startsWith('import '))].join('\n');
}

function walk(node: unknown, visit: (n: Node) => void): void {
  if (Array.isArray(node)) { for (const x of node) walk(x, visit); return; }
  if (!node || typeof node !== 'object') return;
  visit(node as Node);
  for (const [k, v] of Object.entries(node)) if (k !== 'location') walk(v, visit);
}

const isRecordMember = (n: unknown): n is Node => !!n && (n as Node).type === 'MemberExpression' &&
  ((n as Node).object as Node)?.type === 'Identifier' && ((n as Node).object as Node).name === 'r';
const memberName = (n: Node) => (n.property as Node).name as string ?? (n.property as Node).value as string;
const strings = (n: unknown): string[] => ((n as Node)?.elements as Node[] ?? []).map((e) => (e.type === 'StringLiteral' ? e.value : (e.expression as Node)?.value) as string);

/** What one query names, from its syntax tree. */
function namesIn(query: string) {
  const ast = parseFlux(asGrafanaRuns(query));
  const names = { measurements: [] as string[], fields: [] as string[], tags: [] as string[], dimensions: [] as string[] };
  walk(ast, (n) => {
    if (n.type === 'BinaryExpression' && isRecordMember(n.left) && (n.right as Node).type === 'StringLiteral') {
      const which = memberName(n.left as Node);
      const value = (n.right as Node).value as string;
      if (which === '_measurement') names.measurements.push(value);
      else if (which === '_field') names.fields.push(value);
      else if (which === 'dimension') names.dimensions.push(value);
    }
    if (isRecordMember(n)) {
      const name = memberName(n);
      if (!name.startsWith('_')) names.tags.push(name);
    }
    if (n.type === 'CallExpression' && (n.callee as Node)?.name === 'contains') {
      const props = ((n.arguments as Node[])[0]?.properties as Node[]) ?? [];
      const value = props.find((p) => (p.key as Node).name === 'value')?.value;
      const set = props.find((p) => (p.key as Node).name === 'set')?.value;
      if (isRecordMember(value) && memberName(value as Node) === '_field') names.fields.push(...strings(set));
    }
    if (n.type === 'Property' && ['columns', 'rowKey', 'columnKey'].includes((n.key as Node)?.name as string)) {
      names.tags.push(...strings(n.value).filter((c) => !c.startsWith('_')));
    }
    if (n.type === 'Property' && (n.key as Node)?.name === 'tag' && (n.value as Node)?.type === 'StringLiteral') {
      names.tags.push((n.value as Node).value as string);
    }
  });
  return names;
}

/** Complaints about one query: what it names that the sink does not write. */
function complaints(query: string): string[] {
  const out: string[] = [];
  let valid = false;
  try { valid = new Flux(asGrafanaRuns(query)).is_valid(); } catch (e) { out.push(`Flux: ${(e as Error).message}`); }
  if (!valid && !out.length) out.push('not valid Flux (parse or semantic check)');
  const n = namesIn(query);
  if (!n.measurements.length) out.push('names no measurement');
  const known = n.measurements.filter((m): m is Measurement => m in SCHEMA);
  for (const m of n.measurements) if (!(m in SCHEMA)) out.push(`unknown measurement ${m}`);
  if (known.length < n.measurements.length) return out; // fields and tags of an unknown measurement mean nothing
  const fields = new Set(known.flatMap((m) => SCHEMA[m].fields as readonly string[]));
  const tags = new Set(known.flatMap((m) => SCHEMA[m].tags as readonly string[]));
  for (const f of n.fields) if (!fields.has(f)) out.push(`field ${f} is not written to ${known.join('/')}`);
  for (const tag of n.tags) if (!tags.has(tag)) out.push(`tag ${tag} is not written to ${known.join('/')}`);
  for (const d of n.dimensions) if (!(TALKER_DIMENSIONS as readonly string[]).includes(d)) out.push(`no talker dimension ${d}`);
  return out;
}

interface Panel { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { query: string; datasource?: { uid: string } }[] }
interface Dashboard { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; query: string; datasource?: { uid: string } }[] } }

const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const dashboards = files.map((f) => ({ file: f, d: JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Dashboard }));

t.test('the dashboards', async (t) => {
  t.same(files, ['flowlens-fleet.json', 'flowlens-health.json']);
  t.equal(new Set(dashboards.map(({ d }) => d.uid)).size, dashboards.length, 'unique uids');
});

for (const { file, d } of dashboards) {
  t.test(`${file}: every query valid Flux naming only what flowlens writes`, async (t) => {
    const vars = d.templating.list;
    t.ok(vars.some((v) => v.name === 'host'), 'a host variable');
    for (const v of vars) {
      t.equal(v.datasource?.uid, datasourceUid, `variable ${v.name}: the provisioned data source`);
      t.same(complaints(v.query), [], `variable ${v.name}`);
    }
    t.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, 'unique panel ids');
    for (const p of d.panels) {
      t.equal(p.datasource?.uid, datasourceUid, `${p.title}: the provisioned data source`);
      t.ok(p.targets?.length, `${p.title}: has a query`);
      for (const q of p.targets ?? []) {
        t.same(complaints(q.query), [], p.title);
        t.match(q.query, /r\.host =~ \/\^\$\{host:regex\}\$\//, `${p.title}: filtered by the host variable`);
      }
    }
  });
}

t.test('together they show every measurement and the dimensions the issue asks for', async (t) => {
  const all = dashboards.flatMap(({ d }) => d.panels.flatMap((p) => (p.targets ?? []).map((q) => namesIn(q.query))));
  t.same([...new Set(all.flatMap((n) => n.measurements))].sort(), Object.keys(SCHEMA).sort(), 'every measurement has a panel');
  const dims = new Set(all.flatMap((n) => n.dimensions));
  for (const d of ['ip', 'country', 'domain', 'proto']) t.ok(dims.has(d), `talkers by ${d}`);
  const tags = new Set(all.flatMap((n) => n.tags));
  t.ok(tags.has('iface'), 'rates per interface');
});

t.test('the check complains about names the sink does not write, and about bad Flux', async (t) => {
  const good = dashboards[0].d.panels[0].targets![0].query;
  t.same(complaints(good), []);
  t.same(complaints(good.replace('"bits_per_second"', '"bit_rate"')), ['field bit_rate is not written to flowlens_traffic']);
  t.same(complaints(good.replace('"flowlens_traffic"', '"flowlens_trafic"')), ['unknown measurement flowlens_trafic']);
  t.same(complaints(good.replace('r.iface', 'r.interface')), ['tag interface is not written to flowlens_traffic']);
  t.same(complaints(good.replace('group(columns: ["host", "direction"])', 'group(columns: ["host", "dir"])')), ['tag dir is not written to flowlens_traffic']);
  t.same(complaints(good.replace('fn: mean', 'fnc: mean')), ['not valid Flux (parse or semantic check)']);
  t.same(complaints(good.replace('|> sum()', '|> sum(')), ['not valid Flux (parse or semantic check)']);
  const talkers = dashboards[0].d.panels.find((p) => p.title.startsWith('Countries'))!.targets![0].query;
  t.same(complaints(talkers.replace('"country"', '"city"')), ['no talker dimension city']);
});
