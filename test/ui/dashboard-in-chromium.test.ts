/**
 * The dashboard in a real Chromium against a real flowlens counting real
 * traffic (test/helpers/dashboard-lab.ts): every view shows the numbers the API
 * has, the live rate moves, a quick range changes the history chart, a filter
 * changes the sessions table, the keyboard reaches every view, and the page
 * logs no errors. Screenshots of each view go to docs/screenshots/.
 */
import t from 'tap';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../src/native/binding.js';
import { requireKernel } from '../helpers/kernel.js';
import { cliBuilt } from '../helpers/flowlens-cli.js';
import { LAN_PEER, REMOTES, SHOTS, apiFromPage, openBrowser, shot, startDashboardLab, tooWide } from '../helpers/dashboard-lab.js';
import { formatBytes } from '../../ui/src/lib/format.js';

/** "1.23 MB" → 1230000; "820 B" → 820. */
function bytesOf(text: string): number {
  const m = /^([\d.]+) (B|KB|MB|GB|TB)$/.exec(text.trim());
  if (!m) throw new Error(`not a byte count: "${text}"`);
  return Number(m[1]) * 1000 ** ['B', 'KB', 'MB', 'GB', 'TB'].indexOf(m[2]!);
}

/** Pixels of a canvas that are not blank: a drawn chart has thousands. */
function inkedPixels(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel) as HTMLCanvasElement | null;
    if (!canvas) return -1;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
    return n;
  }, selector);
}

t.test('every view of the dashboard against a running flowlens', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  t.ok(existsSync(path.join(repoRoot, 'ui/dist/index.html')), 'the dashboard is built (bash scripts/build.sh)');
  const lab = await startDashboardLab(t);
  const { page, errors } = await openBrowser(t, lab.chromiumPath);

  await page.goto(`${lab.url}#/overview`);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 20_000 });
  t.pass('the live feed connects');

  // ── header: the live rate is real and moves
  await page.waitForFunction(() => !document.querySelector('[data-testid=rate-down]')!.textContent!.startsWith('0 '), null, { timeout: 15_000 });
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) {
    seen.add(`${await page.getByTestId('rate-up').textContent()}|${await page.getByTestId('rate-down').textContent()}`);
    await page.waitForTimeout(1000);
  }
  t.ok(seen.size >= 3, `the header rate changes with every interval (${[...seen].join(', ')})`);
  t.match(await page.getByTestId('rate-down').textContent(), /^[\d.]+ (bit|kbit|Mbit|Gbit)\/s$/, 'shown in bit/s');
  t.same(await page.getByTestId('iface-select').locator('option').allTextContents(), ['All interfaces', lab.iface], 'the interface selector lists the counted interface');

  // ── overview: today's totals are the API's, talkers carry country and ASN
  // the card shows what one poll of the API answered: between a read before and a read after
  const apiToday = async () => {
    const s = await apiFromPage<{ today: { totals: { up: number; down: number } } }>(page, 'api/summary');
    return s.today.totals.up + s.today.totals.down;
  };
  const card = page.getByTestId('today').locator('.total');
  const before = await apiToday();
  const stale = await card.textContent();
  await page.waitForFunction((old) => document.querySelector('[data-testid=today] .total')!.textContent !== old, stale, { timeout: 15_000 });
  const todayText = (await card.textContent())!;
  const after = await apiToday();
  const shown = bytesOf(todayText);
  t.ok(shown >= before * 0.99 && shown <= after * 1.01, `today shows ${todayText}: between the API's ${formatBytes(before)} and ${formatBytes(after)}`);
  t.match(await page.getByTestId('today').textContent(), new RegExp(new Date().toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' })), "labelled with the host's date, in the browser's style");
  // internet beside LAN: the card's parts are the API's scoped totals (read around the card's poll)
  const scoped = async (scope: string) => (await apiFromPage<{ today: { totals: { up: number; down: number } } }>(page, `api/summary?scope=${scope}`)).today.totals;
  const lanBefore = await scoped('lan');
  const internetBefore = await scoped('internet');
  await page.waitForFunction(() => document.querySelector('[data-testid=today-lan]') !== null);
  // the cards as the next poll after those reads draws them (the total changes with every poll that saw traffic)
  const staleTotal = await card.textContent();
  await page.waitForFunction((old) => document.querySelector('[data-testid=today] .total')!.textContent !== old, staleTotal, { timeout: 15_000 });
  const lanCard = (await page.getByTestId('today-lan').textContent())!;
  const internetCard = (await page.getByTestId('today-internet').textContent())!;
  const lanAfter = await scoped('lan');
  const internetAfter = await scoped('internet');
  const between = (text: string, lo: number, hi: number) => bytesOf(text) >= lo * 0.99 && bytesOf(text) <= hi * 1.01;
  const [inetUp, inetDown] = [...internetCard.matchAll(/([\d.]+ [KMGT]?B)/g)].map((m) => m[1]!);
  t.ok(between(inetUp!, internetBefore.up, internetAfter.up) && between(inetDown!, internetBefore.down, internetAfter.down),
    `today's internet up ${inetUp} and down ${inetDown} are the API's scope=internet`);
  const lanShown = /([\d.]+ [KMGT]?B)/.exec(lanCard)![1]!;
  t.ok(between(lanShown, lanBefore.up + lanBefore.down, lanAfter.up + lanAfter.down), `today's LAN ${lanShown} is the API's scope=lan`);
  t.ok(lanAfter.up + lanAfter.down > 0, 'the lab\'s LAN peer is counted as LAN');
  // the billing cycle card: what counts against the 2 GB cap (internet traffic), as /api/usage says
  const usageBefore = (await apiFromPage<{ counted: number }>(page, 'api/usage')).counted;
  const staleCycle = await page.getByTestId('cycle-counted').textContent();
  await page.waitForFunction((old) => document.querySelector('[data-testid=cycle-counted]')?.textContent !== old, staleCycle, { timeout: 15_000 });
  const cycleShown = bytesOf((await page.getByTestId('cycle-counted').textContent())!);
  const usageAfter = (await apiFromPage<{ counted: number }>(page, 'api/usage')).counted;
  t.ok(cycleShown >= usageBefore * 0.99 && cycleShown <= usageAfter * 1.01, `the cycle card shows ${formatBytes(cycleShown)} counted (API: ${formatBytes(usageBefore)} … ${formatBytes(usageAfter)})`);
  t.match(await page.getByTestId('cycle').getByRole('meter').getAttribute('aria-label'), /% of the 2\.00 GB cap/, 'with its share of the cap');
  await page.getByTestId('talkers').locator('li').first().waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=talkers] li .code') !== null, null, { timeout: 10_000 });
  const firstTalker = await page.getByTestId('talkers').locator('li').first().textContent();
  t.match(firstTalker, new RegExp(`${REMOTES[0].net.replace(/\./g, '\\.')}\\.2`), 'the busiest remote is first');
  t.match(firstTalker, /NL/, 'with its country');
  t.match(firstTalker, /AS64500/, 'and its network');
  const protocols = (await page.getByTestId('protocols').locator('li .name').allTextContents()).map((s) => s.trim());
  t.ok(protocols.includes('tcp') && protocols.includes('udp'), `protocols: ${protocols.join(', ')}`);
  t.ok((await inkedPixels(page, '[data-testid=live-chart] canvas')) > 2000, 'the live chart is drawn');
  await page.getByRole('tab', { name: 'Countries' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=talkers]')?.textContent?.includes('Netherlands'));
  t.pass('the countries tab names the countries');
  await page.getByRole('tab', { name: 'Remote IPs' }).click();
  await page.keyboard.press('ArrowRight');
  t.equal(await page.getByRole('tab', { name: 'Local hosts' }).getAttribute('aria-selected'), 'true', 'arrow keys move between the talker tabs');
  await page.waitForFunction(() => document.querySelector('[data-testid=talkers]')?.textContent?.includes('.1'));
  t.match(await page.getByTestId('talkers').locator('li').first().textContent(), new RegExp(`${REMOTES[0].net.replace(/\./g, '\\.')}\\.1`), 'local hosts: the host\'s busiest address');
  await page.keyboard.press('ArrowLeft');
  t.equal(await page.getByRole('tab', { name: 'Remote IPs' }).getAttribute('aria-selected'), 'true');
  // talkers are internet traffic by default: the LAN peer is not among them until LAN or All is chosen
  const talkerKeys = async () => (await page.getByTestId('talkers').locator('li .mono').allTextContents()).map((k) => k.trim());
  t.notOk((await talkerKeys()).includes(`${LAN_PEER.net}.2`), 'internet talkers (the default) leave the LAN peer out');
  await page.locator('[data-scope=lan]').click();
  await page.waitForFunction((k) => [...document.querySelectorAll('[data-testid=talkers] li .mono')].some((e) => e.textContent?.trim() === k), `${LAN_PEER.net}.2`, { timeout: 15_000 });
  t.ok((await talkerKeys()).every((k) => k === `${LAN_PEER.net}.2` || !REMOTES.some((r) => k.startsWith(`${r.net}.`))), `LAN talkers: the LAN peer, no internet remote (${(await talkerKeys()).join(', ')})`);
  await page.locator('[data-scope=all]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=talkers] li').length >= 7, null, { timeout: 15_000 });
  t.ok((await talkerKeys()).includes(`${REMOTES[0].net}.2`) && (await talkerKeys()).includes(`${LAN_PEER.net}.2`), 'all traffic: both');
  await page.locator('[data-scope=internet]').click();
  await page.waitForFunction((k) => ![...document.querySelectorAll('[data-testid=talkers] li .mono')].some((e) => e.textContent?.trim() === k), `${LAN_PEER.net}.2`, { timeout: 15_000 });
  await page.waitForTimeout(1500);
  await shot(page, 'overview');

  // ── keyboard: the nav links are reachable with Tab and open with Enter
  await page.keyboard.press('Escape');
  await page.locator('nav a').first().focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/history$/);
  t.pass('Tab + Enter opens History');

  // ── history: quick ranges change the chart
  const chart = page.getByTestId('range-chart');
  const state = async () => ({ granularity: await chart.getAttribute('data-granularity'), buckets: Number(await chart.getAttribute('data-buckets')) });
  await page.locator('[data-range=today]').click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=range-chart]')?.getAttribute('data-buckets')) >= 23);
  const today = await state();
  t.equal(today.granularity, 'hour', 'today: by hour');
  t.ok(today.buckets >= 23 && today.buckets <= 25, `today: ${today.buckets} hours`);
  const todayTotal = bytesOf((await page.getByTestId('range-totals').locator('b').first().textContent())!);
  t.ok(todayTotal > 0, 'today has traffic');
  // the browser's zone is +5:45: an hour named ":00" is the host's hour
  t.match(await page.getByTestId('busiest').textContent(), /^\d{1,2} [A-Z][a-z]{2,3}, \d\d:00$/, 'the busiest hour, named in the host zone');
  t.ok((await inkedPixels(page, '[data-testid=range-chart] canvas')) > 500, 'the range chart draws bars');
  await page.locator('[data-range="7d"]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=range-chart]')?.getAttribute('data-buckets') === '7');
  t.same(await state(), { granularity: 'day', buckets: 7 }, 'last 7 days: 7 days');
  await page.locator('[data-range=thisYear]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=range-chart]')?.getAttribute('data-granularity') === 'month');
  t.equal((await state()).granularity, 'month', 'this year: by month');
  await page.locator('[data-range="30d"]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=range-chart]')?.getAttribute('data-buckets') === '30');
  t.equal((await state()).granularity, 'day', 'last 30 days: by day');
  await page.getByRole('button', { name: 'Hour' }).click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=range-chart]')?.getAttribute('data-buckets')) >= 719);
  t.equal((await state()).granularity, 'hour', 'the granularity can be changed by hand');
  // typed dates: three days → by day, no quick range highlighted (ending yesterday: on the 3rd of
  // a month, three days to today *are* "this month")
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toLocaleDateString('sv-SE');
  await page.getByRole('button', { name: 'Auto' }).click();
  await page.getByLabel('From date').fill(day(-3));
  await page.getByLabel('To date').fill(day(-1));
  await page.waitForFunction(() => document.querySelector('[data-testid=range-chart]')?.getAttribute('data-buckets') === '3');
  t.same(await state(), { granularity: 'day', buckets: 3 }, 'a typed range of three days: 3 days');
  t.equal(await page.locator('[data-range][aria-pressed=true]').count(), 0, 'no quick range claims it');
  await page.getByLabel('From date').fill(day(1));
  await page.getByRole('alert').filter({ hasText: 'the end is before the start' }).waitFor();
  t.pass('an impossible range is said so, and nothing is asked of the API');
  // axis labels: one per tick, none repeated, at every range's granularity
  for (const [range, minTicks] of [['7d', 7], ['thisYear', 1], ['30d', 5], ['today', 6]] as const) {
    await page.locator(`[data-range="${range}"]`).click();
    await page.waitForFunction(() => (document.querySelector('[data-testid=range-chart] .chart') as HTMLElement | null)?.dataset.ticks !== undefined);
    await page.waitForTimeout(300);
    const ticks = JSON.parse((await page.locator('[data-testid=range-chart] .chart').getAttribute('data-ticks'))!) as string[];
    t.ok(ticks.length >= minTicks, `${range}: ${ticks.length} ticks`);
    t.equal(new Set(ticks).size, ticks.length, `${range}: every tick label is unique (${ticks.map((l) => l.replace('\n', ' ')).join(', ')})`);
  }
  // the range split by scope: internet and LAN beside the total
  await page.getByTestId('range-lan').waitFor();
  t.match(await page.getByTestId('range-internet').textContent(), /Internet.*▲.*▼/, 'the range\'s internet up and down');
  t.ok(bytesOf((await page.getByTestId('range-lan').locator('b').textContent())!) > 0, 'and its LAN traffic');
  await page.getByRole('button', { name: 'Up / Down' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=range-lan]') === null);
  t.pass('the split can be switched to up/down');
  await page.getByRole('button', { name: 'Internet / LAN' }).click();
  await page.getByTestId('range-lan').waitFor();
  // the billing cycle: its devices and destinations
  await page.getByTestId('cycle-view').locator('li').first().waitFor({ timeout: 20_000 });
  t.match(await page.getByTestId('cycle-view').textContent(), new RegExp(`Devices.*${REMOTES[0].net.replace(/\./g, '\\.')}\\.1`), 'the cycle view lists the devices');
  await page.getByRole('button', { name: 'Earlier cycle' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=cycle-view]')?.textContent?.includes('none'));
  t.pass('an earlier cycle (before flowlens ran) has no devices');
  await page.getByRole('button', { name: 'Current' }).click();
  await page.waitForTimeout(1200);
  await shot(page, 'history');

  // ── sessions: a filter changes the table
  await page.goto(`${lab.url}#/sessions`);
  const rows = page.getByTestId('session-row');
  await rows.first().waitFor({ timeout: 10_000 });
  const matchedAll = Number((await page.getByTestId('sessions-matched').textContent())!.replace(/,/g, ''));
  t.ok(matchedAll > 40, `${matchedAll} live sessions`);
  const net = REMOTES[1].net;
  await page.getByTestId('filter-addr').fill(`${net}.0/24`);
  await page.waitForFunction((n) => {
    const cells = [...document.querySelectorAll('[data-testid=session-row] .c-remote')];
    return cells.length > 0 && cells.every((c) => c.textContent!.startsWith(`${n}.`));
  }, net, { timeout: 10_000 });
  const remotes = await page.locator('[data-testid=session-row] .c-remote').allTextContents();
  t.ok(remotes.every((r) => r.startsWith(`${net}.2:`)), `filtered by address: ${remotes.length} rows, all to ${net}.2`);
  const matchedNet = Number((await page.getByTestId('sessions-matched').textContent())!.replace(/,/g, ''));
  t.ok(matchedNet > 0 && matchedNet < matchedAll, `the count follows the filter (${matchedNet} of ${matchedAll})`);
  t.match(await page.locator('[data-testid=session-row] .c-where').first().textContent(), /JP · AS64501/, 'country and network of the remote');
  await page.getByTestId('filter-protocol').selectOption('udp');
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('[data-testid=session-row] .c-proto')];
    return cells.length > 0 && cells.every((c) => c.textContent === 'udp');
  }, null, { timeout: 10_000 });
  t.pass('protocol udp: only UDP rows');
  await page.getByTestId('filter-protocol').selectOption('');
  await page.getByTestId('filter-addr').fill('');
  await page.getByLabel('Network').fill(`AS${REMOTES[2].asn}`);
  await page.waitForFunction((n) => {
    const cells = [...document.querySelectorAll('[data-testid=session-row] .c-remote')];
    return cells.length > 0 && cells.every((c) => c.textContent!.startsWith(`${n}.2`));
  }, REMOTES[2].net, { timeout: 10_000 });
  t.pass(`network AS${REMOTES[2].asn}: only sessions to ${REMOTES[2].net}.2`);
  await page.getByLabel('Network').fill('');
  await page.getByTestId('sort').selectOption('bytes');
  await page.waitForFunction(() => {
    const bytes = (s: string) => Number(s.split(' ')[0]) * 1000 ** ['B', 'KB', 'MB', 'GB'].indexOf(s.split(' ')[1]!);
    const rows = [...document.querySelectorAll('[data-testid=session-row]')].slice(0, 10)
      .map((r) => bytes(r.querySelector('.c-up')!.textContent!) + bytes(r.querySelector('.c-down')!.textContent!));
    return rows.length === 10 && rows.every((v, i) => i === 0 || v <= rows[i - 1]! * 1.01);
  }, null, { timeout: 10_000 });
  t.pass('sorted by bytes: the largest sessions first');
  await page.getByTestId('sort').selectOption('rate');
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=sessions-matched]')!.textContent!.replace(/,/g, '')) > n, matchedNet, { timeout: 10_000 });
  await page.waitForTimeout(1500);
  await shot(page, 'sessions');

  // ── map: the six countries are shaded, the table names them
  await page.goto(`${lab.url}#/map`);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=world-map]')?.getAttribute('data-countries')) > 150, null, { timeout: 10_000 });
  await page.getByTestId('country-table').waitFor({ timeout: 10_000 });
  for (const r of REMOTES) {
    const cls = await page.locator(`path[data-code=${r.country}]`).first().getAttribute('class');
    t.match(cls, /shade-[1-6]/, `${r.country} is shaded`);
  }
  t.match(await page.locator('path[data-code=FR]').first().getAttribute('class'), /shade-0/, 'a country without traffic is not');
  const countryRows = await page.getByTestId('country-table').locator('tbody tr').allTextContents();
  t.match(countryRows[0], /Netherlands/, 'the busiest country leads the table');
  await page.waitForTimeout(500);
  await shot(page, 'map');

  // ── status: interface, attach modes, health, version
  await page.goto(`${lab.url}#/status`);
  await page.getByTestId('interfaces-table').waitFor({ timeout: 10_000 });
  t.match(await page.getByTestId('interfaces-table').textContent(), new RegExp(lab.iface), 'the counted interface');
  t.match(await page.getByTestId('interfaces-table').textContent(), /xdp|tc/, 'with its attach modes');
  t.equal((await page.getByTestId('role').first().textContent())?.trim(), '—', 'no gateway role');
  // the LAN peer is a device (the public peers on the same link are not): its veth MAC is random, so no vendor
  await page.getByTestId('devices-table').waitFor({ timeout: 20_000 });
  const deviceRows = await page.getByTestId('devices-table').locator('tbody tr').allTextContents();
  t.equal(deviceRows.length, 1, `one device (${deviceRows.join(' | ')})`);
  const cells = (await page.getByTestId('devices-table').locator('tbody tr').first().locator('td').allTextContents()).map((c) => c.trim());
  t.match(cells, ['unnamed', 'private MAC', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, `${LAN_PEER.net}.2`, lab.iface], 'unnamed, a private MAC, its LAN address, the interface');
  t.match(await page.getByTestId('health').textContent(), /Healthy/);
  t.match(await page.getByTestId('version').textContent(), /^flowlens \d+\.\d+\.\d+$/);
  t.match(await page.getByTestId('sink-history').textContent(), /on/, 'history is a sink and on');
  await page.getByTestId('machine').waitFor({ timeout: 10_000 });
  t.match(await page.getByTestId('machine-cpu').textContent(), /^\d+(\.\d)?%$/, 'the host\'s CPU');
  t.match(await page.getByTestId('machine-own').textContent(), /% of a core/, 'and flowlens\'s own');
  t.match(await page.getByTestId('machine-interfaces').textContent(), new RegExp(lab.iface), 'the machine\'s interfaces, with their kernel counters');
  await page.waitForFunction((iface) => {
    const row = [...document.querySelectorAll('[data-testid=machine-interfaces] tr')].find((r) => r.textContent?.includes(iface));
    return row !== undefined && !/^0 bit/.test(row.querySelectorAll('td')[1]?.textContent ?? '0 bit');
  }, lab.iface, { timeout: 15_000 });
  t.pass('the counted interface\'s receive rate is live');
  await shot(page, 'status');

  // ── dark theme and a phone
  await page.goto(`${lab.url}#/overview`);
  await page.getByRole('button', { name: 'Switch to dark theme' }).click();
  t.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await page.waitForTimeout(2000);
  await shot(page, 'overview-dark');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: 'Switch to light theme' }).click();
  await page.waitForTimeout(1500);
  const overflow = await tooWide(page);
  t.ok(overflow <= 0, `nothing wider than a phone (${overflow} px too wide)`);
  await page.screenshot({ path: path.join(SHOTS, 'overview-phone.png'), fullPage: false });
  for (const view of ['history', 'sessions', 'map', 'status']) {
    await page.goto(`${lab.url}#/${view}`);
    await page.waitForTimeout(2500);
    const wide = await tooWide(page);
    t.ok(wide <= 0, `${view} on a phone: nothing scrolls sideways (${wide} px too wide)`);
    await page.screenshot({ path: path.join(SHOTS, `${view}-phone.png`), fullPage: true });
  }
  await page.goto(`${lab.url}#/sessions`);
  await page.getByTestId('session-row').first().waitFor({ timeout: 10_000 });
  t.ok(await page.locator('[data-testid=session-row] .c-down').first().isVisible(), 'the sessions table on a phone still shows bytes');

  t.same(errors, [], 'no console errors');

  // ── flowlens goes away: the header says so instead of showing stale numbers as live
  await lab.run.stop('SIGTERM');
  await page.getByTestId('connection').filter({ hasText: /Reconnecting|Offline/ }).waitFor({ timeout: 15_000 });
  t.pass(`connection state: ${await page.getByTestId('connection').textContent()}`);
});
