/**
 * The dashboard's costs: its bundle (gzip), the time from navigation to the
 * first drawn chart on localhost, and frame times while the sessions table
 * scrolls through 100k live sessions — in Debian's Chromium, against the real
 * API server fed with crafted intervals (no kernel needed). Prints figures;
 * asserts nothing.
 *
 *   node --import tsx bench/ui.ts [--sessions 100000] [--loads 5] [--frames 600]
 */
import { readdirSync, readFileSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import type { Test } from 'tap';
import { chromium, type Page } from 'playwright-core';
import { startApi, HOST } from '../test/helpers/api-fixture.js';
import type { FlowSpec } from '../test/helpers/flow-batch.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/helpers/dashboard-lab.js';
import { median, printHeader, repoRoot, table } from './lib.js';

const { values } = parseArgs({
  options: { sessions: { type: 'string', default: '100000' }, loads: { type: 'string', default: '5' }, frames: { type: 'string', default: '600' }, help: { type: 'boolean' } },
});
if (values.help) {
  process.stdout.write('node --import tsx bench/ui.ts [--sessions N live sessions] [--loads N page loads] [--frames N frames of scrolling]\n');
  process.exit(0);
}
const SESSIONS = Number(values.sessions), LOADS = Number(values.loads), FRAMES = Number(values.frames);
const DIST = path.join(repoRoot, 'ui/dist');
const f1 = (x: number) => x.toFixed(1);
const kb = (n: number) => (n / 1000).toFixed(1);
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

function bundle(): void {
  const files = [path.join(DIST, 'index.html'), ...readdirSync(path.join(DIST, 'assets')).map((f) => path.join(DIST, 'assets', f))];
  const rows = files.map((f) => {
    const raw = readFileSync(f);
    const name = path.relative(DIST, f);
    // the world map's geometry and country codes load only when the Map view opens
    const lazy = /countries-110m|codes-/.test(name);
    return { name, raw: raw.length, gz: gzipSync(raw, { level: 9 }).length, lazy };
  });
  const sum = (rs: typeof rows, k: 'raw' | 'gz') => rs.reduce((a, r) => a + r[k], 0);
  const first = rows.filter((r) => !r.lazy);
  process.stdout.write(`\n## bundle (ui/dist, gzip -9)\n${table(['file', 'raw KB', 'gzip KB', 'loaded'], [
    ...rows.map((r) => [r.name, kb(r.raw), kb(r.gz), r.lazy ? 'Map view' : 'first paint']),
    ['first paint total', kb(sum(first, 'raw')), kb(sum(first, 'gz')), ''],
    ['whole app total', kb(sum(rows, 'raw')), kb(sum(rows, 'gz')), 'target < 150'],
  ])}\n`);
}

/** A tap-like teardown list, so the test fixture can be used outside tap. */
function teardowns(): { t: Test; run: () => Promise<void> } {
  const fns: (() => unknown)[] = [];
  return { t: { teardown: (fn: () => unknown) => { fns.push(fn); } } as unknown as Test, run: async () => { for (const fn of fns.reverse()) await fn(); } };
}

/** `n` TCP sessions from the host to 250 remotes, sizes spread over four orders of magnitude. */
function sessionFlows(n: number, at: number): FlowSpec[] {
  const specs: FlowSpec[] = [];
  for (let i = 0; i < n; i++) {
    const remote = `198.${18 + (i % 2)}.${(i >> 1) % 250}.${1 + (i % 200)}`;
    const up = 200 + ((i * 7919) % 50_000);
    const down = 500 + ((i * 104_729) % 5_000_000);
    const localPort = 1024 + (i % 60_000);
    const remotePort = [443, 80, 22, 8443, 993][i % 5]!;
    specs.push(
      { direction: 'egress', protocol: 6, src: HOST, dst: remote, srcPort: localPort, dstPort: remotePort + Math.floor(i / 60_000), packets: Math.ceil(up / 1000), bytes: up, tcpFlags: 0x12, firstSeen: at, lastSeen: at },
      { direction: 'ingress', protocol: 6, src: remote, dst: HOST, srcPort: remotePort + Math.floor(i / 60_000), dstPort: localPort, packets: Math.ceil(down / 1000), bytes: down, tcpFlags: 0x12, firstSeen: at + 1, lastSeen: at + 1 },
    );
  }
  return specs;
}

async function firstChart(page: Page, url: string): Promise<number> {
  await page.goto(url);
  return page.evaluate(() => new Promise<number>((resolve) => {
    const inked = () => {
      const c = document.querySelector('[data-testid=live-chart] canvas') as HTMLCanvasElement | null;
      if (!c || !c.width) return false;
      const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) return true;
      return false;
    };
    const check = () => (inked() ? resolve(performance.now()) : requestAnimationFrame(check));
    check();
  }));
}

/**
 * Scrolls the sessions table by `step` px per frame for `frames` frames: each
 * frame's duration (ms), and the script time Chromium attributes to frames
 * longer than 50 ms (Long Animation Frames), to tell our JavaScript from
 * rendering and from a busy machine.
 */
function scrollFrames(page: Page, frames: number, step: number): Promise<{ times: number[]; longScriptMs: number }> {
  return page.evaluate(([n, px]) => new Promise<{ times: number[]; longScriptMs: number }>((resolve) => {
    const body = document.querySelector('[data-testid=sessions-body]') as HTMLElement;
    let longScriptMs = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries() as unknown as { scripts: { duration: number }[] }[]) for (const s of e.scripts) longScriptMs += s.duration;
    });
    observer.observe({ type: 'long-animation-frame' });
    const times: number[] = [];
    let last = performance.now();
    const frame = (now: number) => {
      times.push(now - last);
      last = now;
      body.scrollTop += px;
      if (times.length < n) requestAnimationFrame(frame);
      else setTimeout(() => { observer.disconnect(); resolve({ times: times.slice(1), longScriptMs }); }, 100);
    };
    requestAnimationFrame(frame);
  }), [frames, step] as const);
}

async function main(): Promise<void> {
  printHeader('bench/ui: dashboard bundle, first chart, sessions table scrolling');
  statSync(path.join(DIST, 'index.html')); // built? (bash scripts/build.sh)
  bundle();

  const { t, run: cleanup } = teardowns();
  try {
    const fx = await startApi(t, {}, { maxSessions: SESSIONS + 1000 });
    let now = Date.now();
    fx.feed(sessionFlows(SESSIONS, now - 500), now);
    // keep the live feed ticking: a little traffic every second
    const ticker = setInterval(() => {
      now = Date.now();
      fx.feed(sessionFlows(50, now - 500), now);
    }, 1000);
    const url = `http://127.0.0.1:${fx.api.httpPort}/`;
    const profile = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-ui-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1440, height: 1000 } });
    // tsx (esbuild keepNames) wraps named functions in __name(): give the page one
    await context.addInitScript('globalThis.__name = (f) => f;');
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const loads: number[] = [];
      for (let i = 0; i < LOADS; i++) {
        await page.goto('about:blank');
        loads.push(await firstChart(page, `${url}#/overview`));
      }
      process.stdout.write(`\n## navigation → first drawn chart (Overview, localhost)\n${table(['load', 'ms'], [
        ['first (cold cache)', f1(loads[0]!)], [`median of ${LOADS - 1} warm`, f1(median(loads.slice(1)))],
      ])}\n`);

      await page.goto(`${url}#/sessions`);
      await page.getByTestId('session-row').first().waitFor({ timeout: 30_000 });
      const matched = await page.getByTestId('sessions-matched').textContent();
      const rows: string[][] = [];
      for (const step of [0, 34, 340, 3400]) {
        await page.evaluate(() => { (document.querySelector('[data-testid=sessions-body]') as HTMLElement).scrollTop = 0; });
        await page.waitForTimeout(300);
        const { times, longScriptMs } = await scrollFrames(page, FRAMES, step);
        const loaded = await page.locator('[data-testid=session-row]').count();
        rows.push([step ? `${step} px/frame` : 'not scrolling (baseline)', f1(median(times)), f1(pct(times, 0.95)), f1(pct(times, 0.99)), f1(Math.max(...times)), String(times.filter((x) => x > 20).length), f1(longScriptMs), String(loaded)]);
      }
      // a dragged scrollbar on a fresh page: jump to the middle, wait for the rows there
      await page.goto('about:blank');
      await page.goto(`${url}#/sessions`);
      await page.getByTestId('session-row').first().waitFor({ timeout: 30_000 });
      const jump = await page.evaluate((mid) => new Promise<number>((resolve) => {
        const body = document.querySelector('[data-testid=sessions-body]') as HTMLElement;
        const t0 = performance.now();
        body.scrollTop = mid * 34;
        const check = () => {
          const placeholders = document.querySelectorAll('[data-testid=sessions-body] .placeholder').length;
          const real = document.querySelectorAll('[data-testid=session-row]').length;
          if (real > 0 && placeholders === 0) resolve(performance.now() - t0);
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }), Math.floor(SESSIONS / 2));
      process.stdout.write(`\n## sessions table: ${matched} live sessions, ${FRAMES} frames of scrolling per row\n${table(
        ['scroll speed', 'frame p50 ms', 'p95', 'p99', 'max', 'frames > 20 ms', 'script ms in frames > 50 ms', 'rows in DOM'], rows)}\n` +
        `jump to row ${Math.floor(SESSIONS / 2).toLocaleString('en-US')} (pages of 10,000 by cursor): ${f1(jump)} ms until its rows are shown\n`);
    } finally {
      clearInterval(ticker);
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  } finally {
    await cleanup();
  }
}

await main();
