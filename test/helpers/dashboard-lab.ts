/**
 * A real flowlens with real traffic for the dashboard's browser tests: a host
 * namespace and a peer namespace joined by a veth pair carrying six public
 * /24s and a private (LAN) one, which a country and an ASN database made by the test place in six
 * countries; the peer serves, the host loads it without pause
 * (dashboard-traffic.cjs); `flowlens run` counts on the host end and serves the
 * API and the built dashboard on the namespace's loopback. Chromium runs in
 * the same namespace (through a wrapper executable), driven by playwright-core
 * over its pipe. Everything is removed at teardown.
 */
import path from 'node:path';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Test } from 'tap';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../../src/native/binding.js';
import { Topology } from './topology.js';
import { CliRun, cliCommand } from './flowlens-cli.js';
import { waitFor } from './netns.js';
import { mmdbTempDir, writeMmdb } from './mmdb-writer.js';

const TRAFFIC = path.join(repoRoot, 'test/helpers/dashboard-traffic.cjs');
export const CHROMIUM = '/usr/bin/chromium';

/** The remote networks of the lab, busiest first: each peer address is .2, the host's .1. */
export const REMOTES = [
  { net: '198.51.100', country: 'NL', asn: 64500, org: 'Example Net B.V.' },
  { net: '203.0.113', country: 'JP', asn: 64501, org: 'Example KK' },
  { net: '192.0.2', country: 'US', asn: 64502, org: 'Example Inc.' },
  { net: '198.18.7', country: 'DE', asn: 64503, org: 'Beispiel GmbH' },
  { net: '198.19.9', country: 'BR', asn: 64504, org: 'Exemplo Ltda' },
  { net: '198.18.200', country: 'AU', asn: 64505, org: 'Example Pty Ltd' },
] as const;

/** A LAN peer beside the internet ones (a private /24 on the same link): its traffic is "LAN" on the dashboard. */
export const LAN_PEER = { net: '192.168.77' } as const;

export interface DashboardLab {
  /** The dashboard's URL as the browser (in the host namespace) reaches it. */
  url: string;
  hostNs: string;
  /** The peer namespace (serving the lab's traffic), for a test's own extra traffic. */
  peerNs: string;
  topo: Topology;
  iface: string;
  run: CliRun;
  /** A wrapper that starts Chromium inside the host namespace. */
  chromiumPath: string;
}

const node = (script: string, args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, script, ...args]];

export async function startDashboardLab(t: Test, extraArgs: string[] = []): Promise<DashboardLab> {
  const dir = mmdbTempDir(t);
  const countryDb = path.join(dir, 'country.mmdb');
  const asnDb = path.join(dir, 'asn.mmdb');
  writeMmdb(countryDb, REMOTES.map((r) => ({ cidr: `${r.net}.0/24`, record: { country: { iso_code: r.country, names: { en: r.country } } } })), { databaseType: 'GeoLite2-Country' });
  writeMmdb(asnDb, REMOTES.map((r) => ({ cidr: `${r.net}.0/24`, record: { autonomous_system_number: r.asn, autonomous_system_organization: r.org } })), { databaseType: 'GeoLite2-ASN' });

  const topo = Topology.create(t, 'ui');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const [first, ...rest] = REMOTES;
  const link = topo.link(host, `${first.net}.1/24`, peer, `${first.net}.2/24`);
  for (const r of [...rest, LAN_PEER]) {
    topo.exec(host, 'ip', ['addr', 'add', `${r.net}.1/24`, 'dev', link.a]);
    topo.exec(peer, 'ip', ['addr', 'add', `${r.net}.2/24`, 'dev', link.b]);
  }

  const ready = async (child: ReturnType<Topology['spawn']>, what: string) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    if (!(await waitFor(() => out.includes('ready'), 10_000))) throw new Error(`${what} did not start: ${out}`);
  };
  await ready(topo.spawn(peer, ...node(TRAFFIC, ['serve'])), 'traffic server');

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-data-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const run = new CliRun(topo.spawn(host, ...cliCommand([
    'run', '--iface', link.a, '--format', 'ndjson', '--interval', '1s', '--http-port', '0', '--grpc-port', '0',
    '--data-dir', dataDir, '--flush-interval', '2s', '--cap', '2GB', '--geo-country', countryDb, '--geo-asn', asnDb, ...extraArgs,
  ])));
  t.teardown(() => run.stop('SIGTERM'));
  if (!(await run.waitFor((r) => r.stdout.includes('"type":"api"'), 30_000))) throw new Error(`flowlens did not start its API: ${run.stderr}`);
  const apiLine = run.stdout.split('\n').find((l) => l.includes('"type":"api"'))!;
  const { http } = JSON.parse(apiLine) as { http: string };

  // the LAN peer second: a busy LAN (a backup) that must not be mistaken for internet use
  const loaded = [first, LAN_PEER, ...rest].map((r) => `${r.net}.2`);
  await ready(topo.spawn(host, ...node(TRAFFIC, ['load', loaded.join(',')])), 'traffic load');

  const wrapperDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-chromium-'));
  t.teardown(() => rmSync(wrapperDir, { recursive: true, force: true }));
  const chromiumPath = path.join(wrapperDir, 'chromium-in-netns');
  writeFileSync(chromiumPath, `#!/bin/sh\nexec ip netns exec ${host} ${CHROMIUM} "$@"\n`);
  chmodSync(chromiumPath, 0o755);
  return { url: `${http}/`, hostNs: host, peerNs: peer, topo, iface: link.a, run, chromiumPath };
}

/** The flags every test browser gets: no sandbox (root), no GPU, nothing on the network but our page. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors seen so far. */
  errors: string[];
}

/**
 * A fresh Chromium profile (a new --user-data-dir) with one page; closed at
 * teardown. The browser's zone defaults to Asia/Kathmandu (+5:45), unlike any
 * test host's: whatever the page shows by day or hour must follow the host.
 */
export async function openBrowser(t: Test, executablePath: string, viewport = { width: 1440, height: 1000 }, timezoneId = 'Asia/Kathmandu'): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/install-deps.sh --test)`);
  const profile = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath, args: CHROMIUM_ARGS, headless: true, viewport, colorScheme: 'light', timezoneId, locale: 'en-GB',
  });
  t.teardown(async () => {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return { context, page, errors };
}

export const SHOTS = path.join(repoRoot, 'docs/screenshots');

/** A full-page screenshot into docs/screenshots/NAME.png, without a focus ring. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** An API answer as the page gets it (same origin, same namespace). */
export function apiFromPage<T>(page: Page, url: string): Promise<T> {
  return page.evaluate(async (u) => (await fetch(u)).json(), url) as Promise<T>;
}

/**
 * How far the page's content reaches past the viewport's right edge, in px:
 * the document's scroll width, and every element not inside a scroll or clip
 * container (a panel whose text overflows it shows, even if the page itself
 * cannot scroll).
 */
export function tooWide(page: Page): Promise<number> {
  return page.evaluate(() => {
    let right = document.documentElement.scrollWidth;
    for (const e of document.body.querySelectorAll('*')) {
      let clipped = false;
      for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') { clipped = true; break; }
      }
      if (!clipped) right = Math.max(right, e.getBoundingClientRect().right);
    }
    return Math.ceil(right - window.innerWidth);
  });
}
