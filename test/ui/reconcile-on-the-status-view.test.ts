/**
 * The Status view's "Kernel counters vs flowlens" panel in a real Chromium:
 * flowlens counts on one end of a quiet veth pair, 5 pings cross it, and the
 * panel shows what GET /api/reconcile says — the kernel's 5 sent and 5
 * received packets, 0 unexplained — and the terms behind it; at phone width
 * nothing scrolls sideways.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor } from '../helpers/netns.js';
import { CliRun, cliCommand } from '../helpers/flowlens-cli.js';
import { CHROMIUM, openBrowser } from '../helpers/dashboard-lab.js';

const PORT = 18_474;  // inside the test's own namespace

t.test('the Status view shows the kernel\'s counters beside flowlens\'s, explained', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'ru', layout: 'namespaces', addresses: true });
  const { a, b } = lab;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-rec-data-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  // with a history, as a run has by default (the other views' calls answer)
  const fl = new CliRun(lab.spawn(a, ...cliCommand(['run', '--iface', a.name, '--format', 'ndjson', '--interval', '1s', '--data-dir', dataDir,
    '--listen', '127.0.0.1', '--http-port', String(PORT), '--grpc-port', '0'])));
  t.teardown(() => fl.stop('SIGTERM'));
  const reconcile = async () => {
    const r = await lab.run(a, 'curl', ['-sf', `http://127.0.0.1:${PORT}/api/reconcile`]);
    return r.code === 0 ? JSON.parse(r.stdout) : null;
  };
  t.ok(await waitFor(async () => (await reconcile())?.interfaces.length === 1, 30_000, 250), `flowlens answers ${fl.stderr}`);
  t.equal((await lab.run(a, 'ping', ['-c', '5', '-i', '0.2', '-q', b.v4!])).code, 0, '5 pings answered');
  t.ok(await waitFor(async () => (await reconcile())?.interfaces[0].sinceAttach.ingress.flowlens.packets === 5, 10_000, 300), 'the 5 echo replies are drained');
  const api = (await reconcile()).interfaces[0];

  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-rec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = path.join(dir, 'chromium-in-netns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${a.ns} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);

  for (const viewport of [{ width: 1440, height: 1000 }, { width: 390, height: 844 }]) {
    const { page, errors } = await openBrowser(t, wrapper, viewport);
    await page.goto(`http://127.0.0.1:${PORT}/#/status`);
    const panel = page.getByTestId('reconcile');
    await panel.waitFor({ timeout: 15_000 });
    t.match(await panel.locator('.rec-head').innerText(), new RegExp(`${a.name}[\\s\\S]*every packet and byte explained`), `${viewport.width} px: the headline`);
    const rows = await page.getByTestId(`reconcile-${a.name}`).locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.trim())));
    const k = api.sinceAttach;
    t.same(rows.map((r) => [r[0], r[1], r[3]]), [
      ['Receive (rx)', String(k.ingress.kernel.packets), '0'],
      ['Send (tx)', String(k.egress.kernel.packets), '0'],
    ], `${viewport.width} px: the kernel's packets as the API says, none unexplained`);
    t.same([k.ingress.kernel.packets, k.egress.kernel.packets], [5, 5], 'which are the 5 replies and 5 requests');
    await panel.locator('summary').click();
    const terms = await panel.locator('table.terms').first().innerText();
    t.match(terms, /flows\s+\+5\s+\+420/, `${viewport.width} px: the flows term of the receive side (5 replies, 84 L3 bytes each)`);
    t.match(terms, /ethernet\s+0\s+\+70/, `${viewport.width} px: and their Ethernet headers`);
    const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, win: window.innerWidth }));
    t.ok(widths.doc <= widths.win, `${viewport.width} px: nothing scrolls sideways (${widths.doc} ≤ ${widths.win})`);
    t.same(errors, [], 'no console errors');
  }
});
