#!/usr/bin/env node
/**
 * The flowlens command line. Every failure a user can cause or meet prints one
 * clear message (what is wrong, what to do) and exits non-zero: never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { FlowlensError } from './errors.js';
import { parseDuration, validateConfig } from './collector/index.js';
import { configFrom, dumpConfig, settingFlags, settingsHelp, DEFAULT_CONFIG_FILE } from './config/index.js';
import { run, type OutputFormat } from './cli/run.js';
import { interfacesCommand } from './cli/interfaces.js';
import { checkCommand } from './cli/check.js';
import { historyCli } from './cli/history.js';
import { topCli } from './cli/top.js';
import { devicesCli } from './cli/devices.js';
import { sessionsCli } from './cli/sessions.js';
import { usageCli } from './cli/usage.js';
import { prepareArgs } from './cli/args.js';
import { alertsCli } from './cli/alerts.js';
import { CAPTURE_OPTIONS, CAPTURE_USAGE } from './cli/capture-usage.js';

/** A whole decimal number: Number() would take "abc" as NaN, "" as 0 and "0x10" as 16. */
function parseInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim())) throw new FlowlensError('FLOW_ERR_USAGE', `${flag} must be a whole number, not "${text}"`);
  return Number(text);
}

/** --format of the commands that print a table or JSON. */
function tableOrJson(v: Record<string, string | boolean | undefined>): string {
  const format = (v.format as string | undefined) ?? 'table';
  if (format !== 'table' && format !== 'json') throw new FlowlensError('FLOW_ERR_USAGE', `--format must be table or json, not "${format}"`);
  return format;
}

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Takes arguments that are not options (file names). */
  positionals?: boolean;
  main(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'count traffic on interfaces: sessions, talkers, history; live view or NDJSON',
    usage: `flowlens run --iface eth0[,eth1] [options]
flowlens run --demo [options]

Settings come from the config file (--config, default ${DEFAULT_CONFIG_FILE}), then
FLOWLENS_* environment variables, then these flags; \`flowlens config --dump\` shows the result.

Options:
  --config FILE                  YAML configuration file [FLOWLENS_CONFIG]
  --demo                         create a network namespace with a veth pair and traffic, and count on it
  --format table|ndjson|none     live table (default), none (a service: start line and errors only) or
                                 NDJSON: per interval one object per flow,
                                 per interface totals, an "interval" summary; one per ended session
  --top N                        rows of the plain table (stdout not a terminal; on a terminal the live
                                 view shows as many as fit), talkers per dimension in NDJSON (default 20)
  --duration DUR                 stop after this long (default: run until Ctrl-C / SIGTERM)
${settingsHelp()}`,
    options: {
      ...settingFlags(), config: { type: 'string' }, demo: { type: 'boolean' },
      format: { type: 'string' }, top: { type: 'string' }, duration: { type: 'string' },
    },
    async main(v) {
      const config = configFrom({ file: v.config as string | undefined, flags: v });
      const format = (v.format as string | undefined) ?? 'table';
      if (format !== 'table' && format !== 'ndjson' && format !== 'none') throw new FlowlensError('FLOW_ERR_USAGE', `--format must be table, ndjson or none, not "${format}"`);
      const top = v.top !== undefined ? parseInteger(String(v.top), '--top') : 20;
      if (top < 1) throw new FlowlensError('FLOW_ERR_USAGE', `--top must be a positive integer, not "${v.top}"`);
      const durationMs = v.duration !== undefined ? parseDuration(String(v.duration), '--duration') : 0;
      const opts = { format: format as OutputFormat, top, durationMs };
      if (!v.demo) {
        validateConfig(config.collector);
        await run(config, opts);
        return 0;
      }
      if (config.collector.interfaces.length) throw new FlowlensError('FLOW_ERR_USAGE', '--demo makes its own interface: do not combine it with --iface');
      const { preflight } = await import('./system/preflight.js');
      preflight();
      const { startDemo, DEMO_RULE } = await import('./demo/index.js');
      // every stop removes the demo's network and directory and exits 0: a signal
      // while the demo is set up stops it before counting starts; a second signal
      // while it stops removes it at once
      let signalled = false;
      let removeNow = () => {};
      const onSignal = () => {
        if (signalled) { removeNow(); process.exit(0); }
        signalled = true;
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const demo = await startDemo();
      const { parseAlertLists } = await import('./alerts/config.js');
      removeNow = demo.removeNow;
      if (signalled) {
        await demo.stop();
        return 0;
      }
      const notes = [`flowlens demo: ${demo.iface} (${demo.hostV4}, ${demo.hostV6}) ↔ namespace peer (${demo.peerV4}, ${demo.peerV6})` +
        ` and internet sites ${demo.sites.map((s) => s.addr).join(', ')}`];
      if (!config.geo.country && !config.geo.city && !config.geo.asn) {
        // made-up places for the made-up sites (a real database knows nothing of these ranges)
        config.geo.country = demo.geo.country;
        config.geo.asn = demo.geo.asn;
        notes.push(`flowlens demo: countries and networks from demo data (${path.dirname(demo.geo.country)}), not a real GeoIP database`);
      }
      if (config.loaded.sources.get('dataDir') === 'default') {
        // the demo's made-up traffic stays out of the host's real history
        config.history.dataDir = demo.dir;
        notes.push(`flowlens demo: history in ${demo.dir} while it runs (flowlens history --data-dir ${demo.dir}); removed when it stops`);
      }
      if (config.alerts.enabled && config.alerts.rules.length === 0) {
        // the demo's burst (a 20 MB download each minute) is what a rule on the internet download catches
        config.alerts.rules = parseAlertLists({ rules: [DEMO_RULE], webhooks: [], emails: [] }).rules;
        notes.push(`flowlens demo: alert rule "${DEMO_RULE.name}" (internet download above ${DEMO_RULE.above}bit/s over ${DEMO_RULE.window}) catches the burst each minute`);
      }
      try {
        config.collector.interfaces = [demo.iface];
        await run(config, { ...opts, notes, onStarted: () => demo.startTraffic() });
      } finally {
        await demo.stop();
      }
      return 0;
    },
  },
  config: {
    summary: 'check the configuration (--check) or print the effective one (--dump)',
    usage: `flowlens config --check|--dump [--config FILE] [any flag of flowlens run]`,
    options: { ...settingFlags(), config: { type: 'string' }, check: { type: 'boolean' }, dump: { type: 'boolean' } },
    async main(v) {
      if (!v.check && !v.dump) throw new FlowlensError('FLOW_ERR_USAGE', 'say --check or --dump');
      const config = configFrom({ file: v.config as string | undefined, flags: v });
      if (v.dump) process.stdout.write(dumpConfig(config.loaded));
      if (v.check) {
        const { checkConfig } = await import('./cli/check-config.js');
        await checkConfig(config);
        process.stdout.write(`configuration OK${config.loaded.file ? ` (${config.loaded.file})` : ' (no config file: defaults, environment and flags)'}\n`);
      }
      return 0;
    },
  },
  interfaces: {
    summary: 'list network interfaces: index, state, addresses, XDP support, gateway role',
    usage: 'flowlens interfaces [--format table|json] [--config FILE] [--iface eth0:wan,br0:lan]',
    options: { format: { type: 'string' }, config: { type: 'string' }, iface: { type: 'string' } },
    async main(v) {
      // the roles come from the settings (file, FLOWLENS_INTERFACES, --iface), as for flowlens run
      const config = configFrom({ file: v.config as string | undefined, flags: { iface: v.iface } });
      return interfacesCommand(tableOrJson(v), config.collector.roles ?? {});
    },
  },
  reconcile: {
    summary: 'per interface: the kernel\'s own counters beside the running flowlens\'s totals, the difference explained',
    usage: `flowlens reconcile [--url http://127.0.0.1:8080] [--token TOKEN] [--format table|json] [--config FILE]

Asks the running flowlens (GET /api/reconcile) and prints, per interface and direction since
it attached: flowlens's terms (flows, overflow, forwarded, non-IP, malformed, GSO super-packets,
Ethernet headers) summed into what the kernel should count, the kernel's own counters
(/sys/class/net/IF/statistics) and what is left unexplained (docs/reconcile.md).
--url defaults to api.listen and api.httpPort of the settings; --token to $FLOWLENS_TOKEN.`,
    options: { url: { type: 'string' }, token: { type: 'string' }, format: { type: 'string' }, config: { type: 'string' } },
    async main(v) {
      const format = tableOrJson(v);
      let url = v.url as string | undefined;
      if (url === undefined) {
        const { api } = configFrom({ file: v.config as string | undefined, flags: {} });
        const host = api.listen === '0.0.0.0' ? '127.0.0.1' : api.listen === '::' ? '::1' : api.listen;
        url = `http${api.tls ? 's' : ''}://${host.includes(':') ? `[${host}]` : host}:${api.httpPort}`;
      }
      const { fetchReconcile, renderReconcile } = await import('./cli/reconcile.js');
      const answer = await fetchReconcile(url, (v.token as string | undefined) ?? process.env.FLOWLENS_TOKEN);
      process.stdout.write(format === 'json' ? `${JSON.stringify(answer, null, 2)}\n` : renderReconcile(answer));
      return 0;
    },
  },
  check: {
    summary: 'check that this host can run flowlens (kernel, BTF, privileges, libbpf, verifier)',
    usage: 'flowlens check [--format table|json]',
    options: { format: { type: 'string' } },
    async main(v) {
      return checkCommand(tableOrJson(v));
    },
  },
  history: historyCli,
  top: topCli,
  devices: devicesCli,
  sessions: sessionsCli,
  usage: usageCli,
  alerts: alertsCli,
  analyze: {
    summary: 'count capture files (pcap, pcapng, gzip, stdin) with the same BPF program and control plane as a live run',
    usage: `flowlens analyze FILE... [options]       (FILE - reads stdin: tcpdump -w - | flowlens analyze -)

Every frame runs through the loaded BPF program (BPF_PROG_TEST_RUN); sessions, talkers, names,
geo and filters are the live run's, with the file's timestamps as time (docs/offline.md).

Options:
  --format table|json|ndjson     summary table (default), one JSON object, or the live NDJSON objects
  --report FILE.html             also write a self-contained HTML report
  --local CIDR,...               local networks (default: networks.local, else the private ranges)
  --data-dir DIR                 also write the analysis into a history store (flowlens serve --data-dir DIR)
  --interval DUR                 intervals of file time (default: the interval setting)
  --top N                        rows per table (default 10)
  --config FILE                  settings file (networks, sessions, filters, geo, names)
${settingsHelp()}`,
    positionals: true,
    options: { ...settingFlags(), config: { type: 'string' }, format: { type: 'string' }, report: { type: 'string' }, local: { type: 'string' }, top: { type: 'string' } },
    async main(v, files) {
      const { analyze, analyzeSetup } = await import('./cli/analyze.js');
      const { config, opts } = analyzeSetup(v, files);
      return analyze(config, opts);
    },
  },
  capture: {
    summary: 'write a pcapng of the frames that match a filter (host, net, port, proto, session), filtered in the kernel',
    usage: CAPTURE_USAGE,
    options: CAPTURE_OPTIONS,
    async main(v) {
      const { captureCommand } = await import('./cli/capture.js');
      return captureCommand(v);
    },
  },
  serve: {
    summary: 'open the dashboard and APIs over a stored history (e.g. of flowlens analyze --data-dir), counting nothing',
    usage: `flowlens serve --data-dir DIR [options]

The dashboard, the JSON API and gRPC answer from the history in DIR; nothing is counted and
nothing in it is pruned. The status shows "stored history FIRST — LAST" instead of an interface.

${settingsHelp()}`,
    options: { ...settingFlags(), config: { type: 'string' } },
    async main(v) {
      if (v['data-dir'] === undefined) throw new FlowlensError('FLOW_ERR_USAGE', 'say which history to serve: --data-dir DIR');
      const config = configFrom({ file: v.config as string | undefined, flags: v });
      config.history.enabled = true;
      config.influx = undefined;
      const { serve } = await import('./cli/serve.js');
      return serve(config);
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `flowlens — exact per-flow traffic counting with eBPF

Usage: flowlens <command> [options]      flowlens <command> --help      flowlens --version

Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`).join('\n')}
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`flowlens ${(await import('./version.js')).version()}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new FlowlensError('FLOW_ERR_USAGE', `unknown command "${name}"`, `commands: ${Object.keys(COMMANDS).join(', ')}; see flowlens --help`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.summary}\n\nUsage: ${cmd.usage}\n`);
    return 0;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: prepareArgs(rest, cmd.options, name), options: cmd.options, strict: true, allowPositionals: cmd.positionals ?? false }) as { values: typeof values; positionals: string[] });
  } catch (e) {
    if (e instanceof FlowlensError) throw e;
    throw new FlowlensError('FLOW_ERR_USAGE', (e as Error).message, `see flowlens ${name} --help`);
  }
  return cmd.main(values, positionals);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    process.stderr.write(`${e instanceof FlowlensError ? e.format() : `flowlens: ${(e as Error).message ?? e}`}\n`);
    process.exitCode = 1;
  },
);

process.on('uncaughtException', (e) => {
  // the collector's exit hook detaches; here we only make sure no stack trace is the last word
  process.stderr.write(`flowlens: unexpected error: ${e.message}\n`);
  process.exit(1);
});
