/**
 * `flowlens run --demo` shows what flowlens is for within its first minute:
 * through the JSON API, internet and LAN sessions, domains learned from the
 * demo's DNS answers and TLS hellos, countries and networks from the demo's
 * own GeoIP/ASN database, and the burst (a 20 MB download 12 s in) — with
 * every "internet" address inside the demo's namespace (198.18.0.0/15,
 * 2001:db8::/32), never a real outside one.
 */
import t from 'tap';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { requireKernel } from '../helpers/kernel.js';
import { waitFor } from '../helpers/netns.js';
import { spawn } from 'node:child_process';

interface TalkerRow { key: string; label: string; bytesUp: number; bytesDown: number }
interface SessionRow { remote: string; scope: string; labels?: { domain?: string; country?: string; asn?: number } }

const DEMO_RANGES = /^(198\.1[89]\.\d+\.\d+|2001:db8:[0-9a-f:]+)$/;

t.test('the demo\'s first minute: internet and LAN, domains, countries, ASNs', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const [cmd, args] = cliCommand(['run', '--demo', '--format', 'ndjson', '--http-port', '0', '--grpc-port', '0', '--duration', '90s']);
  const run = new CliRun(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => run.stop('SIGINT'));
  t.ok(await run.waitFor((r) => r.tally.api !== undefined, 30_000), `the demo runs (stderr: ${run.stderr})`);
  const base = run.tally.api!.http;
  const get = async (p: string) => {
    const r = await fetch(`${base}${p}`);
    return r.ok ? r.json() : { status: r.status, text: await r.text() };
  };
  const top = async (dimension: string): Promise<TalkerRow[]> => (await get(`/api/top?dimension=${dimension}&window=60&limit=50`)).rows ?? [];
  const started = Date.now();
  const seen = { internet: false, lan: false, dnsName: false, sniName: false, country: '', asn: '', burst: 0 };
  await waitFor(async () => {
    const sessions: SessionRow[] = (await get('/api/sessions?limit=500')).sessions ?? [];
    seen.internet ||= sessions.some((s) => s.scope === 'internet');
    seen.lan ||= sessions.some((s) => s.scope === 'lan');
    const domains = await top('domain');
    // video is only ever named by the DNS answer, cdn by its ClientHello's SNI (it shares its address with shop)
    seen.dnsName ||= domains.some((r) => r.key === 'video.demo.example');
    seen.sniName ||= domains.some((r) => r.key === 'cdn.demo.example') && domains.some((r) => r.key === 'shop.demo.example');
    seen.country ||= (await top('country')).find((r) => /^[A-Z]{2}$/.test(r.key))?.key ?? '';
    seen.asn ||= (await top('asn')).find((r) => /^AS645\d\d$|^AS6449\d$/.test(r.key) && r.label.endsWith('(demo data)'))?.key ?? '';
    seen.burst = Math.max(seen.burst, domains.find((r) => r.key === 'updates.demo.example')?.bytesDown ?? 0);
    return seen.internet && seen.lan && seen.dnsName && seen.sniName && seen.country && seen.asn && seen.burst >= 20_000_000;
  }, 60_000, 1000);
  const within = Date.now() - started;
  t.ok(seen.internet, 'internet sessions');
  t.ok(seen.lan, 'LAN sessions');
  t.ok(seen.dnsName, 'a domain learned from a DNS answer (video.demo.example)');
  t.ok(seen.sniName, 'domains learned from TLS SNI (cdn and shop.demo.example on one address)');
  t.ok(seen.country, `a country (${seen.country})`);
  t.ok(seen.asn, `an ASN, labelled as demo data (${seen.asn})`);
  t.ok(seen.burst >= 20_000_000, `the burst: 20 MB from updates.demo.example (${seen.burst} bytes down)`);
  t.ok(within < 60_000, `all within the first minute (${Math.round(within / 1000)} s after start)`);

  // every internet address is one of the demo's own
  const internet: SessionRow[] = (await get('/api/sessions?scope=internet&limit=500')).sessions ?? [];
  t.ok(internet.length > 0, 'internet sessions listed');
  t.same(internet.filter((s) => !DEMO_RANGES.test(s.remote)).map((s) => s.remote), [], 'every internet peer is a demo address');

  const end = await run.stop('SIGINT');
  t.equal(end.code, 0, `SIGINT ends the demo with 0 (stderr: ${run.stderr.slice(-500)})`);
});
