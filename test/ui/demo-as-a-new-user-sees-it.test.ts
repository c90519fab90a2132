/**
 * The README's first screen: `flowlens run --demo` as a new user meets it, in
 * a real terminal (tmux, 120×34) and in Chromium (the dashboard whose URL the
 * live view shows). The screen is read before anything is drawn from it: the
 * live view shows internet and LAN rows, a domain, a country and an ASN of the
 * demo, the dashboard's URL after the keys, and the burst with the alert the
 * demo's rule fires on it; the dashboard shows the burst's domain, the Today
 * card counts internet traffic, and the live chart marks the alert. Then `q` ends the demo
 * with 0. Writes docs/screenshots/demo-terminal.png (the terminal's text
 * rendered as a terminal draws it) and demo-dashboard.png.
 */
import t from 'tap';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { repoRoot } from '../../src/native/binding.js';
import { requireKernel } from '../helpers/kernel.js';
import { CLI, cliBuilt } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { Tmux } from '../helpers/tmux.js';
import { CHROMIUM, openBrowser } from '../helpers/dashboard-lab.js';

const SHOTS = path.join(repoRoot, 'docs/screenshots');
const WIDTH = 120, HEIGHT = 34;

/** The screen's text as a terminal window draws it: light text on dark, a title bar. */
function terminalPage(lines: string[], title: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  // the live view's header rows and its keys line stand out as a terminal's bold would
  const body = lines.map((l, i) => (i < 3 || /^PROTO|^keys:|^ALERT/.test(l) ? `<b>${esc(l)}</b>` : esc(l))).join('\n');
  return `<!doctype html><meta charset="utf-8"><style>
    body { margin: 0; background: #e8e8e8; }
    .win { display: inline-block; margin: 16px; border-radius: 8px; overflow: hidden; box-shadow: 0 4px 18px #0005; }
    .bar { background: #3a3a3a; color: #ddd; font: 13px sans-serif; padding: 6px 12px; }
    pre { margin: 0; padding: 10px 12px; background: #1d1f21; color: #d8d8d8; font: 13px/1.35 "DejaVu Sans Mono", monospace; }
    b { color: #fff; }
  </style><div class="win"><div class="bar">${esc(title)}</div><pre>${body}</pre></div>`;
}

t.test('the demo in a terminal and in the dashboard, as the README shows it', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmux = new Tmux(t);
  tmux.start('demo', WIDTH, HEIGHT, ['env', '-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', '--demo', '--http-port', '0', '--grpc-port', '0', '--duration', '5m']);
  const screen = () => tmux.screen('demo');
  t.teardown(() => { try { tmux.keys('demo', 'q'); } catch { /* gone */ } });

  // internet and LAN rows, named, placed, with the dashboard's URL on the last line
  let url = '';
  const ready = await waitFor(() => {
    const s = screen();
    url = /(http:\/\/127\.0\.0\.1:\d+\/)\s*$/.exec(s.at(-1) ?? '')?.[1] ?? '';
    return url !== '' && s.some((l) => / LAN /.test(l)) && s.some((l) => /\.demo\.example\)\s+[A-Z]{2} AS\d+/.test(l));
  }, 60_000, 500);
  t.ok(ready, 'the live view shows LAN rows, a named internet row with its country and ASN, and the dashboard\'s URL');
  if (!ready) return t.comment(screen().join('\n'));
  // the burst (a 20 MB download 12 s in) is what the picture should show: its row on top, the alert it fires above the keys
  let shown: string[] = [];
  const burst = await waitFor(() => {
    shown = screen();
    return shown.some((l) => l.includes('(updates.demo.example)')) && shown.some((l) => l.startsWith('ALERT [warning] demo-burst'));
  }, 60_000, 250);
  t.ok(burst, 'the burst from updates.demo.example is on screen, and the alert it fires');
  if (!burst) return t.comment(screen().join('\n'));
  t.ok(shown.length <= HEIGHT && shown.every((l) => l.length <= WIDTH), 'it fits the terminal');
  t.match(shown[1]!, /internet [1-9][\d.]* [kM]?bit\/s/, 'the interface line counts internet traffic');

  const { page, errors } = await openBrowser(t, CHROMIUM, { width: 1440, height: 900 }, 'UTC');
  await page.goto(url);
  const dashboardReady = await waitFor(async () => {
    const text = await page.locator('body').innerText().catch(() => '');
    return /updates\.demo\.example/.test(text) && /internet/i.test(text);
  }, 30_000, 500);
  t.ok(dashboardReady, 'the dashboard shows the burst\'s domain among the internet talkers');
  const today = await page.getByTestId('today').innerText();
  t.match(today, /internet/i, `the Today card has the internet split (${today.replace(/\s+/g, ' ')})`);
  t.ok(await waitFor(async () => (await page.getByTestId('alert-marker').count()) > 0, 15_000, 250), 'the live chart marks the alert');
  t.same(errors, [], 'no errors in the page');

  // what the terminal showed, drawn as a terminal window, and the dashboard as it is
  mkdirSync(SHOTS, { recursive: true });
  const term = await page.context().newPage();
  await term.setContent(terminalPage(shown, 'root@gateway: ~/flowlens — bin/flowlens run --demo'));
  await term.locator('.win').screenshot({ path: path.join(SHOTS, 'demo-terminal.png') });
  await term.close();
  await page.screenshot({ path: path.join(SHOTS, 'demo-dashboard.png') });

  tmux.keys('demo', 'q');
  t.ok(await waitFor(() => screen().some((l) => l.startsWith('[exit ')), 30_000, 200), 'q ends the demo');
  t.ok(screen().includes('[exit 0]'), `exit 0:\n${screen().slice(-6).join('\n')}`);
});
