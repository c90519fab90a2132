/**
 * The decoder reads records at the offsets of layout.gen.ts; the addon reports
 * the offsets its C compiler used for bpf/flow.h. They agree now, and any
 * disagreement (a moved field, a changed size, a removed field) is reported by
 * name.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { layoutDrift, checkLayout } from '../../src/collector/layout.js';
import { loadAddon, repoRoot, type Addon } from '../../src/native/binding.js';
import * as gen from '../../src/collector/layout.gen.js';

type Layout = Addon['layout'];

/** A deep, writable copy of the addon's (frozen) layout. */
function copyLayout(l: Layout): Layout {
  return JSON.parse(JSON.stringify(l)) as Layout;
}

t.test('the addon and layout.gen.ts agree on every struct, field and constant', async (t) => {
  const layout = loadAddon().layout;
  t.same(layoutDrift(layout), [], 'no drift');
  t.doesNotThrow(() => checkLayout(layout));
  // the comparison covered something: every generated struct is in the addon's layout
  for (const name of ['flow_key', 'flow_counters', 'flow_record', 'iface_key', 'iface_counters', 'iface_record', 'capture_record']) {
    t.ok(layout[name], `addon reports struct ${name}`);
  }
  t.equal(layout.flow_record.size, gen.FlowRecord.size);
  t.equal(layout.flow_key.fields.dst_port, gen.FlowKey.dstPort);
  t.equal(layout.constants.FLOW_IFACE_MAX_ENTRIES, gen.FLOW_IFACE_MAX_ENTRIES);
  t.equal(layout.capture_record.size, gen.CaptureRecord.size);
  t.equal(layout.capture_record.fields.payload, gen.CaptureRecord.payload);
  t.equal(layout.constants.CAPTURE_PAYLOAD_MAX, gen.CAPTURE_PAYLOAD_MAX);
  t.ok(Object.isFrozen(layout), 'the addon\'s layout is frozen');
});

t.test('a moved field is reported by name', async (t) => {
  const l = copyLayout(loadAddon().layout);
  l.flow_key.fields.src_port = 41;
  const drift = layoutDrift(l);
  t.equal(drift.length, 1, drift.join('; '));
  t.match(drift[0], /offsetof\(flow_key, src_port\) is 41, layout.gen.ts says 40/);
  t.throws(() => checkLayout(l), { code: 'FLOW_ERR_LAYOUT', message: /src_port/ });
});

t.test('a changed struct size is reported by name', async (t) => {
  const l = copyLayout(loadAddon().layout);
  l.flow_counters.size = 48;
  const drift = layoutDrift(l);
  t.equal(drift.length, 1, drift.join('; '));
  t.match(drift[0], /sizeof\(struct flow_counters\) is 48, layout.gen.ts says 40/);
});

t.test('a field removed from bpf/flow.h is reported by name', async (t) => {
  const l = copyLayout(loadAddon().layout);
  delete l.iface_counters.fields.malformed_bytes;
  const drift = layoutDrift(l);
  t.equal(drift.length, 1, drift.join('; '));
  t.match(drift[0], /iface_counters\.malformedBytes is gone from bpf\/flow\.h/);
});

t.test('a new field, a new struct and a changed constant are reported', async (t) => {
  const l = copyLayout(loadAddon().layout);
  l.flow_key.fields.vlan = 46;
  (l as Record<string, unknown>).flow_extra = { size: 8, fields: { a: 0 } };
  l.constants.FLOW_IFACE_MAX_ENTRIES = 2048;
  const drift = layoutDrift(l);
  t.equal(drift.length, 3, drift.join('; '));
  t.ok(drift.some((d) => /offsetof\(flow_key, vlan\) is 46/.test(d)), 'new field');
  t.ok(drift.some((d) => /struct flow_extra is not in layout.gen.ts/.test(d)), 'new struct');
  t.ok(drift.some((d) => /FLOW_IFACE_MAX_ENTRIES is 2048, layout.gen.ts says 1024/.test(d)), 'constant');
});

t.test('a moved capture_record field and a changed capture constant are reported', async (t) => {
  const l = copyLayout(loadAddon().layout);
  l.capture_record.fields.payload = 72;
  l.constants.CAPTURE_PAYLOAD_MAX = 1024;
  const drift = layoutDrift(l);
  t.equal(drift.length, 2, drift.join('; '));
  t.match(drift.join('\n'), /offsetof\(capture_record, payload\) is 72, layout.gen.ts says 64/);
  t.match(drift.join('\n'), /CAPTURE_PAYLOAD_MAX is 1024, layout.gen.ts says 512/);
});

t.test('several drifts are all reported, not only the first', async (t) => {
  const l = copyLayout(loadAddon().layout);
  l.flow_key.fields.ifindex = 4;
  l.flow_record.fields.counters = 56;
  l.iface_record.size = 64;
  const drift = layoutDrift(l);
  t.equal(drift.length, 3, drift.join('; '));
  t.match(drift.join('\n'), /flow_key, ifindex/);
  t.match(drift.join('\n'), /flow_record, counters/);
  t.match(drift.join('\n'), /struct iface_record/);
});

t.test('`node native/gen-layout.mjs --check` agrees with the checked-in file', async (t) => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'native/gen-layout.mjs'), '--check'], {
    cwd: repoRoot, encoding: 'utf8', timeout: 20_000,
  });
  t.equal(r.status, 0, `exit 0 (stderr: ${r.stderr})`);
  t.equal(r.stderr, '');
});

t.test('`gen-layout.mjs --check` exits 1 naming the file when layout.gen.ts is stale', async (t) => {
  // a copy of the generator in a scratch tree, so the real file is never touched
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'native'));
  mkdirSync(path.join(dir, 'src/collector'), { recursive: true });
  copyFileSync(path.join(repoRoot, 'native/gen-layout.mjs'), path.join(dir, 'native/gen-layout.mjs'));
  const real = readFileSync(path.join(repoRoot, 'src/collector/layout.gen.ts'), 'utf8');
  const stale = real.replace('  srcPort: 40,', '  srcPort: 42,');
  t.not(stale, real, 'the doctored copy differs');
  writeFileSync(path.join(dir, 'src/collector/layout.gen.ts'), stale);
  const env = { ...process.env, FLOWLENS_ADDON: path.join(repoRoot, 'native/build/Release/flowlens.node') };
  const check = () => spawnSync(process.execPath, [path.join(dir, 'native/gen-layout.mjs'), '--check'], { env, encoding: 'utf8', timeout: 20_000 });
  let r = check();
  t.equal(r.status, 1, 'stale file: exit 1');
  t.match(r.stderr, /src\/collector\/layout\.gen\.ts is out of date with bpf\/flow\.h/);
  // regenerating the scratch copy makes it agree again, byte for byte with the real one
  r = spawnSync(process.execPath, [path.join(dir, 'native/gen-layout.mjs')], { env, encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, 'regenerate');
  t.equal(readFileSync(path.join(dir, 'src/collector/layout.gen.ts'), 'utf8'), real, 'regenerated file equals the checked-in one');
  t.equal(check().status, 0, 'then --check passes');
});
