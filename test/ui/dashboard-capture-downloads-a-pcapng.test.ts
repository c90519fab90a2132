/**
 * The dashboard's capture button (Sessions view) against a running flowlens
 * with real traffic (test/helpers/dashboard-lab.ts): Chromium clicks it on
 * a long-lived session and gets a download — a pcapng named for the
 * interface, which tshark reads, holding frames of that session only, both
 * directions — while the button waits for it; a read-only or missing token
 * is not involved here (the lab has no tokens), the API's own tests cover them.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { cliBuilt } from '../helpers/flowlens-cli.js';
import { openBrowser, startDashboardLab } from '../helpers/dashboard-lab.js';

t.test('Sessions: the capture button downloads a pcapng of that session', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-capture-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const lab = await startDashboardLab(t);
  const { page, errors } = await openBrowser(t, lab.chromiumPath);
  await page.goto(`${lab.url}#/sessions`);
  // a long-lived session (the lab's echo connections to port 8443): it has traffic in the next seconds too
  await page.getByLabel('Port').fill('8443');
  const row = page.getByTestId('session-row').filter({ hasText: ':8443' }).first();
  await row.waitFor({ timeout: 30_000 });
  const local = (await row.locator('.c-local').textContent())!.trim();
  const remote = (await row.locator('.c-remote').textContent())!.trim().split(' ')[0]!;
  const [localAddr, localPort] = local.split(':');
  const [remoteAddr, remotePort] = remote.split(':');

  const download = page.waitForEvent('download', { timeout: 60_000 });
  await row.getByTestId('capture').click();
  t.equal(await row.getByTestId('capture').isDisabled(), true, 'the button waits while it captures');
  const d = await download;
  t.match(d.suggestedFilename(), new RegExp(`^flowlens-${lab.iface}-\\d{8}T\\d{6}Z\\.pcapng$`), `named for the interface: ${d.suggestedFilename()}`);
  const file = path.join(tmp, d.suggestedFilename());
  await d.saveAs(file);
  const lines = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').filter(Boolean);
  t.ok(lines.length > 0, `tshark reads ${lines.length} frames`);
  const up = `${localAddr}\t${localPort}\t${remoteAddr}\t${remotePort}`, down = `${remoteAddr}\t${remotePort}\t${localAddr}\t${localPort}`;
  t.strictSame(lines.filter((l) => l !== up && l !== down), [], `only ${local} ↔ ${remote}`);
  t.ok(lines.includes(up) && lines.includes(down), 'both directions');
  await page.waitForFunction(() => !(document.querySelector('[data-testid=session-row] [data-testid=capture]') as HTMLButtonElement).disabled, null, { timeout: 10_000 });
  t.strictSame(errors, [], 'no errors in the page');
});
