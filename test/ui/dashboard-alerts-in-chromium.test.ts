/**
 * The dashboard's alerts in a real Chromium against a real flowlens
 * (test/helpers/dashboard-lab.ts) whose settings file has two rules crossed by
 * real traffic: a daily quota of 5 MB on the lab's busiest remote (its 80 %
 * and 100 % steps fire within seconds of the lab's load) and a 20 Mbit/s rule
 * on downloads from tcp/5201, crossed by an iperf3 download the test starts
 * and stops. Checked as an operator would: the header's badge counts the
 * firing alerts (3, then 2 when iperf3 ends), the Alerts view lists each with
 * its subject, value and the contributors the API stored, the timeline draws
 * one bar per alert in its severity's colour, the filters narrow the list, a
 * silence is made from an alert and expired, and the live and history charts
 * carry a marker at the alert's start that shows it on hover. Screenshots:
 * docs/screenshots/alerts.png and alerts-phone.png.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { requireKernel } from '../helpers/kernel.js';
import { cliBuilt } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { REMOTES, SHOTS, apiFromPage, openBrowser, shot, startDashboardLab, tooWide } from '../helpers/dashboard-lab.js';
import { formatBytes, formatCount } from '../../ui/src/lib/format.js';
import { subjectText } from '../../ui/src/lib/alerts.js';
import type { Alert } from '../../src/alerts/types.js';

const HOST = `${REMOTES[0].net}.1`, PEER = `${REMOTES[0].net}.2`;

const alertsOf = async (page: Page, q = '') => (await apiFromPage<{ alerts: Alert[] }>(page, `api/alerts?start=today${q}`)).alerts;
const badge = async (page: Page) => Number(await page.getByTestId('alert-badge').getAttribute('data-count'));

t.test('alerts: badge, view with contributors, timeline, filters, silences, chart markers', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-alerts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const settings = path.join(dir, 'flowlens.yaml');
  writeFileSync(settings, [
    'alerts:',
    '  rules:',
    `    - {name: nl-daily, quota: {period: day, limit: 5MB, steps: [80, 100]}, subject: {remote: ${PEER}}}`,
    '    - {name: bulk-download, metric: bit/s, subject: {port: tcp/5201, direction: down}, above: 20M, hysteresis: 50%, severity: critical}',
  ].join('\n'));
  const lab = await startDashboardLab(t, ['--config', settings]);
  const { page, errors } = await openBrowser(t, lab.chromiumPath);
  await page.goto(`${lab.url}#/overview`);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 20_000 });

  // ── the quota's two steps fire from the lab's own load; the badge follows with the dashboard's polling
  t.ok(await waitFor(async () => (await alertsOf(page, '&state=firing')).length === 2, 30_000), 'the quota\'s 80 % and 100 % steps fire');
  await page.waitForFunction(() => document.querySelector('[data-testid=alert-badge]')?.getAttribute('data-count') === '2', null, { timeout: 15_000 });
  t.equal(await badge(page), 2, 'the badge counts 2 firing');

  // ── iperf3 downloads at 100 Mbit/s from tcp/5201: the rule fires, the badge says 3
  const server = lab.topo.spawn(lab.peerNs, 'iperf3', ['-s', '-1', '-B', PEER]);
  t.teardown(() => { server.kill('SIGTERM'); });
  t.ok(await waitFor(() => lab.topo.exec(lab.peerNs, 'ss', ['-Hltn', 'sport = :5201']).includes('5201'), 5000), 'iperf3 server listens');
  const client = lab.topo.spawn(lab.hostNs, 'iperf3', ['-c', PEER, '-B', HOST, '-R', '-t', '120', '-b', '100M']);
  t.teardown(() => { client.kill('SIGTERM'); });
  const bulkFiring = async () => (await alertsOf(page, '&state=firing')).find((a) => a.rule === 'bulk-download');
  t.ok(await waitFor(async () => (await bulkFiring()) !== undefined, 20_000), 'the download rule fires');
  await page.waitForFunction(() => document.querySelector('[data-testid=alert-badge]')?.getAttribute('data-count') === '3', null, { timeout: 15_000 });
  t.equal(await badge(page), 3, 'the badge counts 3 firing');
  t.match(await page.getByTestId('alert-badge').getAttribute('aria-label'), /^3 alerts firing/, 'and says so to a screen reader');
  // contributors are stored when the alert fires: read them once a few intervals in, so they carry bytes
  await page.waitForTimeout(3000);
  const bulk = (await bulkFiring())!;
  t.match(bulk, { kind: 'threshold', severity: 'critical', subject: { port: 'tcp/5201', direction: 'down' }, unit: 'bit/s' });
  t.ok(bulk.contributors.some((c) => c.target === PEER && c.service === 'tcp/5201' && c.bytes > 0), `the iperf3 session is a contributor (${JSON.stringify(bulk.contributors)})`);

  // ── markers on the live chart at the alerts' starts; hovering one shows its alert
  const liveMarker = page.locator(`[data-testid=live-chart] [data-testid=alert-marker][data-alert-id="${bulk.id}"]`);
  await liveMarker.waitFor({ state: 'attached', timeout: 15_000 });
  t.equal(await page.locator('[data-testid=live-chart] [data-testid=alert-marker]').count(), 3, 'three markers on the live chart (every alert began in its five minutes)');
  t.notOk(await liveMarker.locator('.tip').isVisible(), 'the alert is hidden until hovered');
  // flowlens is seconds old: its live chart spans only those seconds, so each new second moves a marker tens of px
  // under a still pointer; hover again until the pointer meets it between two draws
  let shownOnHover = false;
  for (let i = 0; i < 5 && !shownOnHover; i++) {
    await liveMarker.locator('.flag').hover();
    shownOnHover = await liveMarker.locator('.tip').isVisible();
  }
  t.ok(shownOnHover, 'hovering the marker shows the alert');
  t.match(await liveMarker.locator('.tip').textContent(), bulk.summary, 'its summary');
  await liveMarker.locator('.flag').click();
  await page.mouse.move(5, 5);
  t.ok(await liveMarker.locator('.tip').isVisible(), 'a click keeps it shown (the live chart moves the marker under the pointer)');
  await page.getByTestId('live-chart').screenshot({ path: path.join(os.tmpdir(), 'flowlens-alerts-live-chart.png') });
  await page.keyboard.press('Tab');
  // each marker stands at its alert's start: in the order of the starts (the quota's two steps began together), iperf3's right of the quota's
  const byX = await page.locator('[data-testid=live-chart] [data-testid=alert-marker]').evaluateAll((els) =>
    els.map((e) => ({ id: Number((e as HTMLElement).dataset.alertId), x: parseFloat((e as HTMLElement).style.left), width: e.parentElement!.clientWidth })).sort((a, b) => a.x - b.x || a.id - b.id));
  const byStart = (await alertsOf(page)).sort((a, b) => a.start - b.start || a.id - b.id).map((a) => a.id);
  t.same(byX.map((m) => m.id), byStart, `markers left to right in the order the alerts began (${JSON.stringify(byX)})`);
  t.ok(byX.every((m) => m.x >= 0 && m.x <= m.width), 'all on the plot');

  // ── the Alerts view: one row per alert with its subject, value and contributors, newest first
  await page.locator('[data-testid=alert-badge]').click();
  await page.waitForURL(/#\/alerts$/);
  t.pass('the badge opens the Alerts view');
  const rows = page.getByTestId('alert-row');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=alert-row]').length === 3, null, { timeout: 15_000 });
  const all = await alertsOf(page);
  t.same(await rows.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-alert-id')))), all.map((a) => a.id), 'the rows are the API\'s alerts of today, in its order');
  const row = page.locator(`[data-testid=alert-row][data-alert-id="${bulk.id}"]`);
  t.equal(await row.getByTestId('alert-state').textContent(), 'firing');
  t.equal(await row.getByTestId('alert-subject').textContent(), subjectText(bulk.subject), 'the subject');
  t.match(await row.getByTestId('alert-subject').textContent(), /port tcp\/5201, direction down/);
  t.match(await row.getByTestId('alert-value').textContent(), /Mbit\/s vs threshold 20\.0 Mbit\/s/, 'value against the threshold');
  // the contributors as stored with the alert (the page re-reads the list every 5 s: compare with a read from the same moment)
  const shownContributors = async () => row.getByTestId('contributor').evaluateAll((lis) => lis.map((li) =>
    ['source', 'target', 'service', 'bytes', 'packets'].map((f) => li.querySelector(`[data-field=${f}]`)!.firstChild!.textContent!.trim())));
  const stored = (await alertsOf(page)).find((a) => a.id === bulk.id)!.contributors;
  const expected = stored.map((c) => [c.source, c.target ?? '–', c.service ?? '–', formatBytes(c.bytes), formatCount(c.packets)]);
  t.ok(await waitFor(async () => JSON.stringify(await shownContributors()) === JSON.stringify(expected), 10_000), `the contributors are the stored ones: ${JSON.stringify(expected)}`);
  t.ok(expected.some((r) => r[1] === PEER && r[2] === 'tcp/5201'), 'naming the iperf3 peer and its service');
  const quotaRow = page.locator('[data-testid=alert-row]', { hasText: 'used 100% of its daily quota' });
  t.match(await quotaRow.getByTestId('alert-value').textContent(), /MB vs step 5\.00 MB · limit 5\.00 MB$/, 'a quota: its step and limit');

  // ── the timeline: one bar per alert, coloured by severity
  const bars = page.getByTestId('timeline-bar');
  t.equal(await bars.count(), 3, 'three bars');
  const colourOf = (sel: string) => page.evaluate((s) => getComputedStyle(document.querySelector(s)!).backgroundColor, sel);
  const critical = await page.evaluate(() => { const d = document.createElement('div'); d.style.color = 'var(--sev-critical)'; document.body.append(d); const c = getComputedStyle(d).color; d.remove(); return c; });
  const warning = await page.evaluate(() => { const d = document.createElement('div'); d.style.color = 'var(--sev-warning)'; document.body.append(d); const c = getComputedStyle(d).color; d.remove(); return c; });
  t.equal(await colourOf(`[data-testid=timeline-bar][data-alert-id="${bulk.id}"]`), critical, 'the critical alert\'s bar is red');
  const step80 = all.find((a) => a.subject.step === '80%')!;
  t.equal(await colourOf(`[data-testid=timeline-bar][data-alert-id="${step80.id}"]`), warning, 'the 80 % step (a warning) is amber');
  t.ok(await page.locator(`[data-testid=timeline-bar][data-alert-id="${bulk.id}"]`).evaluate((e) => e.classList.contains('open')), 'a firing alert\'s bar runs to now');
  // fitted to the alerts (the default), iperf3's bar starts visibly after the quota's; over the whole day both sit at its right end
  const leftOf = (id: number) => page.locator(`[data-testid=timeline-bar][data-alert-id="${id}"]`).evaluate((e) => e.getBoundingClientRect().left);
  t.ok((await leftOf(bulk.id)) - (await leftOf(step80.id)) >= 20, 'fitted: the later alert\'s bar starts further right');
  await page.getByRole('button', { name: 'Whole range' }).click();
  const lanes = await page.locator('[data-testid=alert-timeline] .lanes').evaluate((e) => e.getBoundingClientRect());
  t.ok((await leftOf(step80.id)) - lanes.left > lanes.width * 0.2, 'whole range: the bars sit at their time of day, right of midnight');
  await page.getByRole('button', { name: 'Fit alerts' }).click();
  await page.locator(`[data-testid=timeline-bar][data-alert-id="${step80.id}"]`).click();
  t.ok(await page.locator(`[data-testid=alert-row][data-alert-id="${step80.id}"]`).evaluate((e) => e.classList.contains('selected')), 'a bar selects its alert in the list');

  // ── filters: kind and state
  await page.getByTestId('alert-kind').selectOption('quota');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=alert-row]').length === 2);
  t.same(await rows.evaluateAll((els) => els.map((e) => e.textContent!.includes('nl-daily'))), [true, true], 'kind quota: the two steps');
  t.equal(await bars.count(), 2, 'and the timeline follows the filter');
  await page.getByTestId('alert-kind').selectOption('');
  await page.locator('button[data-state=resolved]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=alert-row]').length === 0);
  t.match(await page.locator('.empty').textContent(), /Nothing resolved/, 'no resolved alert yet, said so');
  await page.locator('button[data-state=firing]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=alert-row]').length === 3);
  t.pass('firing: all three');

  // ── a silence from the alert, then expired
  await row.getByRole('button', { name: 'Silence…' }).click();
  const form = row.getByRole('form', { name: 'Silence this alert' });
  t.same(await form.locator('label.mono').allTextContents().then((l) => l.map((s) => s.trim())), ['rule=bulk-download', 'port=tcp/5201', 'direction=down'], 'the match: its rule and subject');
  await form.getByRole('button', { name: 'Silence' }).click();
  await form.getByRole('alert').filter({ hasText: 'Say why' }).waitFor();
  t.pass('a silence without a reason is refused, and said why');
  await form.getByLabel('Reason').fill('planned bulk copy');
  await form.getByLabel('For').selectOption({ label: '1 week' });
  const asked = Date.now();
  await form.getByRole('button', { name: 'Silence' }).click();
  await page.getByTestId('silence-row').first().waitFor({ timeout: 10_000 });
  const silences = (await apiFromPage<{ silences: Array<{ id: number; match: Record<string, string>; reason: string; until: number }> }>(page, 'api/alerts/silences')).silences;
  t.match(silences, [{ match: { rule: 'bulk-download', port: 'tcp/5201', direction: 'down' }, reason: 'planned bulk copy' }], 'the API has the silence');
  const week = 7 * 86_400_000;
  t.ok(silences[0]!.until >= asked + week - 5000 && silences[0]!.until <= Date.now() + week, 'for the week chosen');
  t.match(await page.getByTestId('silence-row').textContent(), /rule=bulk-download, port=tcp\/5201, direction=down.*planned bulk copy/, 'listed with its match and reason');
  await row.locator('.chip.silenced').waitFor();
  t.equal(await row.locator('.chip.silenced').textContent(), `silenced #${silences[0]!.id}`, 'the alert says it is silenced');
  await page.locator('button[data-state=""]').click();
  await page.waitForTimeout(1200);
  await shot(page, 'alerts');
  await page.getByTestId('silence-row').getByRole('button', { name: 'Expire' }).click();
  await page.getByTestId('silence-row').waitFor({ state: 'detached', timeout: 10_000 });
  t.same((await apiFromPage<{ silences: unknown[] }>(page, 'api/alerts/silences')).silences, [], 'expired: the API has none');

  // ── a marker on the history chart too (today by hour)
  await page.goto(`${lab.url}#/history`);
  await page.locator('[data-range=today]').click();
  await page.locator(`[data-testid=range-chart] [data-testid=alert-marker][data-alert-id="${bulk.id}"]`).waitFor({ state: 'attached', timeout: 15_000 });
  t.equal(await page.locator('[data-testid=range-chart] [data-testid=alert-marker]').count(), 3, 'the history chart marks the three starts');
  // by day (the last 7 days): today's alerts sit on today's bar, the last seventh of the plot
  await page.locator('[data-range="7d"]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=range-chart]')?.getAttribute('data-buckets') === '7');
  await page.locator('[data-testid=range-chart] [data-testid=alert-marker]').nth(2).waitFor({ state: 'attached', timeout: 15_000 });
  const dayMarkers = await page.locator('[data-testid=range-chart] [data-testid=alert-marker]').evaluateAll((els) => els.map((e) => parseFloat((e as HTMLElement).style.left) / e.parentElement!.clientWidth));
  t.ok(dayMarkers.length === 3 && dayMarkers.every((f) => f > 6 / 7 && f <= 1), `by day: on today's bar (${dayMarkers.map((f) => f.toFixed(3)).join(', ')} of the plot)`);

  // ── iperf3 ends: the rule resolves, the badge says 2, the row says resolved
  client.kill('SIGTERM');
  t.ok(await waitFor(async () => (await alertsOf(page, '&state=resolved')).some((a) => a.id === bulk.id), 20_000), 'the download rule resolves');
  await page.waitForFunction(() => document.querySelector('[data-testid=alert-badge]')?.getAttribute('data-count') === '2', null, { timeout: 15_000 });
  t.equal(await badge(page), 2, 'the badge counts 2 again');
  await page.goto(`${lab.url}#/alerts`);
  await page.locator(`[data-testid=alert-row][data-alert-id="${bulk.id}"][data-state=resolved]`).waitFor({ timeout: 15_000 });
  t.notOk(await page.locator(`[data-testid=timeline-bar][data-alert-id="${bulk.id}"]`).evaluate((e) => e.classList.contains('open')), 'its bar ends');
  t.match(await page.locator(`[data-testid=alert-row][data-alert-id="${bulk.id}"]`).textContent(), /End.*\(\d+ s\)/, 'with its end and duration');

  // ── a phone, and the dark theme
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(1200);
  const wide = await tooWide(page);
  t.ok(wide <= 0, `alerts on a phone: nothing scrolls sideways (${wide} px too wide)`);
  await page.screenshot({ path: path.join(SHOTS, 'alerts-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1440, height: 1000 });
  await page.getByRole('button', { name: 'Switch to dark theme' }).click();
  await page.waitForTimeout(800);
  await page.screenshot({ path: path.join(os.tmpdir(), 'flowlens-alerts-dark.png'), fullPage: true });
  t.not(await colourOf(`[data-testid=timeline-bar][data-alert-id="${bulk.id}"]`), critical, 'the dark theme has its own severity colours');
  await page.getByRole('button', { name: 'Switch to light theme' }).click();

  t.same(errors, [], 'no console errors');
});
