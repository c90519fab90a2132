/**
 * The typed configuration every part of `flowlens run` reads, made from the
 * loaded settings (load.ts). Checks that need more than one setting, or a
 * component's own rules (filters compile, local networks parse), happen here,
 * so `flowlens config --check` finds every error `flowlens run` would.
 */
import { interfacesFrom, type CollectorConfig, type Hook, type InterfaceSetting, type XdpMode } from '../collector/config.js';
import type { FilterConfig, FilterRule } from '../flows/filters.js';
import type { InfluxSettings } from '../sinks/influx/config.js';
import type { StoreConfig } from '../store/config.js';
import type { BillingConfig } from '../store/usage.js';
import { TrafficFilter } from '../flows/filters.js';
import type { SessionConfig } from '../flows/sessions.js';
import { defaultLocalNetworks } from '../net/classify.js';
import { FlowlensError } from '../errors.js';
import { parseAlertLists, type AlertsConfig } from '../alerts/config.js';
import { loadConfig, type LoadOptions, type LoadedConfig } from './load.js';
import { Problems } from './problems.js';
import { isIP } from 'node:net';
import { normalizeMac } from '../enrich/oui.js';
import type { DeviceSetting } from '../enrich/devices.js';

export { loadConfig, dumpConfig, parseSetting, settingFlags, settingsHelp, DEFAULT_CONFIG_FILE } from './load.js';
export { setting, settingDefault, SETTINGS } from './schema.js';

/** The history store's settings (the store's own memory bound, pendingKeysLimit, is not one). */
export interface HistoryConfig extends Omit<StoreConfig, 'pendingKeysLimit'> {
  enabled: boolean;
}

export interface ApiConfig {
  enabled: boolean;
  listen: string;
  /** 0: any free port (the bound one is logged). */
  httpPort: number;
  grpcPort: number;
  tokensFile?: string;
  tls?: { cert: string; key: string };
  grpcClientCa?: string;
  /** Requests per minute per client address. */
  rateLimit: number;
  bodyLimit: number;
  /** Remote addresses with their own /metrics series. */
  metricsRemoteSeries: number;
}

/**
 * Loopback: 127.0.0.0/8, ::1, or the name localhost — which the API decides on
 * what it resolves to before it binds (src/api/listen-address.ts).
 */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1' || address === 'localhost' || address === '::ffff:127.0.0.1';
}

function apiConfig(v: <T>(key: string) => T, has: (key: string) => boolean): ApiConfig {
  const api: ApiConfig = {
    enabled: v('api.enabled'),
    listen: v('api.listen'),
    httpPort: v('api.httpPort'),
    grpcPort: v('api.grpcPort'),
    rateLimit: v('api.rateLimit'),
    bodyLimit: v('api.bodyLimit'),
    metricsRemoteSeries: v('api.metricsRemoteSeries'),
  };
  if (has('api.tokensFile')) api.tokensFile = v('api.tokensFile');
  if (has('api.tlsCert') !== has('api.tlsKey')) {
    throw new FlowlensError('FLOW_ERR_USAGE', `api.${has('api.tlsCert') ? 'tlsCert' : 'tlsKey'} is set without api.${has('api.tlsCert') ? 'tlsKey' : 'tlsCert'}`,
      'TLS needs both a certificate (--tls-cert) and its private key (--tls-key)');
  }
  if (has('api.tlsCert')) api.tls = { cert: v('api.tlsCert'), key: v('api.tlsKey') };
  if (has('api.grpcClientCa')) {
    if (!api.tls) throw new FlowlensError('FLOW_ERR_USAGE', 'api.grpcClientCa needs TLS', 'set --tls-cert and --tls-key as well');
    api.grpcClientCa = v('api.grpcClientCa');
  }
  if (api.enabled && api.httpPort !== 0 && api.httpPort === api.grpcPort) {
    throw new FlowlensError('FLOW_ERR_USAGE', `api.httpPort and api.grpcPort are both ${api.httpPort} on ${api.listen}: the JSON API and gRPC need a port each`,
      'choose another port with --http-port or --grpc-port (0 picks a free one)');
  }
  if (api.enabled && !isLoopback(api.listen) && !api.tokensFile) {
    throw new FlowlensError('FLOW_ERR_USAGE', `refusing to serve the APIs on ${api.listen} without access tokens: anyone who can reach it could read this host's traffic`,
      'give a tokens file (--tokens-file, one "read TOKEN" or "admin TOKEN" per line), or listen on 127.0.0.1');
  }
  return api;
}

export interface FlowlensConfig {
  host: string;
  collector: CollectorConfig;
  networks: { local: string[]; private: string[] };
  filters: FilterConfig;
  sessions: SessionConfig;
  geo: { country?: string; city?: string; asn?: string; bundled: boolean };
  /** The ring buffer's size is collector.captureRingBytes (0 without names). */
  names: { enabled: boolean; maxEntries: number };
  history: HistoryConfig;
  /** Billing cycles: `flowlens usage`, /api/usage. */
  billing: BillingConfig;
  /** The influx.* settings as loaded (influxConfigFrom checks them together); absent: no writer. */
  influx?: InfluxSettings;
  api: ApiConfig;
  alerts: AlertsConfig;
  /** Names the user gave devices (`devices:`), by MAC or by address. */
  devices: DeviceSetting[];
  loaded: LoadedConfig;
}

/** The `devices:` list: each entry {mac, name} or {address, name}; every wrong entry is named. */
export function parseDeviceSettings(raw: unknown, where = 'devices'): DeviceSetting[] {
  const p = new Problems();
  const out: DeviceSetting[] = [];
  const hint = 'each device is {mac: aa:bb:cc:dd:ee:ff, name: laptop} or {address: 192.168.1.20, name: printer}';
  ((raw as unknown[] | undefined) ?? []).forEach((r, i) => {
    const w = `${where}[${i}]`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) { p.add(`${w} must be a mapping like {mac: aa:bb:cc:dd:ee:ff, name: laptop}`, hint); return; }
    const e = r as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!['mac', 'address', 'name'].includes(k)) p.add(`${w} has an unknown field "${k}"`, hint);
    const name = typeof e.name === 'string' || typeof e.name === 'number' ? String(e.name).trim() : '';
    if (!name) p.add(`${w}.name is missing`, hint);
    if ((e.mac === undefined) === (e.address === undefined)) { p.add(`${w} needs either mac or address (one of them)`, hint); return; }
    const d: DeviceSetting = { name };
    if (e.mac !== undefined) {
      const mac = normalizeMac(String(e.mac));
      if (!mac) p.add(`${w}.mac ${JSON.stringify(e.mac)} is not a MAC address`, 'write six hex bytes: aa:bb:cc:dd:ee:ff');
      else d.mac = mac;
    } else {
      const a = String(e.address).trim();
      if (!isIP(a)) p.add(`${w}.address ${JSON.stringify(e.address)} is not an IP address`, 'write one address, e.g. 192.168.1.20 or fd00::20 (no prefix length)');
      else d.address = a.includes(':') ? compressV6(a) : a;
    }
    out.push(d);
  });
  p.throwIfAny();
  return out;
}

/** An IPv6 address as the collector writes it (RFC 5952: lowercase, longest zero run as ::). */
function compressV6(a: string): string {
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

function alertsConfig(v: <T>(key: string) => T): AlertsConfig {
  return {
    enabled: v('alerts.enabled'),
    ...parseAlertLists({ rules: v('alerts.rules'), webhooks: v('alerts.webhooks'), emails: v('alerts.emails') }),
    detectors: {
      portScanPorts: v('alerts.portScan'), hostSweepHosts: v('alerts.hostSweep'), scanWindowMs: v('alerts.scanWindow'),
      synFloodRate: v('alerts.synFlood'), udpFloodRate: v('alerts.udpFlood'), icmpFloodRate: v('alerts.icmpFlood'), amplificationRate: v('alerts.amplification'),
      anomalyDeviations: v('alerts.anomaly'), anomalyRatio: v('alerts.anomalyRatio'), anomalyMinRate: v('alerts.anomalyMinRate'),
      anomalyWindowMs: v('alerts.anomalyWindow'), anomalyMinWeeks: v('alerts.anomalyMinWeeks'), anomalyDevices: v('alerts.anomalyDevices'),
      newCountry: v('alerts.newCountry'), newAsn: v('alerts.newAsn'), newDomain: v('alerts.newDomain'), newPeerPeriodMs: v('alerts.newPeerPeriod'),
    },
    contributors: v('alerts.contributors'),
    queueLimit: v('alerts.queueLimit'),
  };
}

export function resolveConfig(loaded: LoadedConfig): FlowlensConfig {
  const v = <T>(key: string): T => loaded.values.get(key) as T;
  const privateNetworks = v<string[]>('networks.private');
  const filters: FilterConfig = { ignore: v<FilterRule[]>('filters.ignore'), keep: v<FilterRule[]>('filters.keep') };
  new TrafficFilter(filters); // throws on a rule that cannot work (unknown protocol, empty rule)
  // the writer is on when influx.url is set; its other settings have defaults or are optional
  const influx = loaded.values.has('influx.url')
    ? Object.fromEntries([...loaded.values].filter(([k]) => k.startsWith('influx.')).map(([k, x]) => [k.slice('influx.'.length), x])) as InfluxSettings
    : undefined;
  return {
    host: v('host'),
    collector: {
      ...interfacesFrom(v<InterfaceSetting[]>('interfaces')),
      hook: v<Hook>('hook'),
      xdpMode: v<XdpMode>('xdpMode'),
      mapEntries: v('mapSize'),
      intervalMs: v('interval'),
      // no names: no captures, and the verifier drops the capture code
      captureRingBytes: v<boolean>('names.enabled') ? v<number>('names.captureBuffer') : 0,
      packetRingBytes: v('capture.ringSize'),
    },
    networks: { local: loaded.values.has('networks.local') ? v('networks.local') : defaultLocalNetworks(privateNetworks), private: privateNetworks },
    filters,
    sessions: { idleTimeoutMs: v('sessions.idleTimeout'), tcpIdleTimeoutMs: v('sessions.tcpIdleTimeout'), maxSessions: v('sessions.max') },
    geo: { country: v('geo.country'), city: v('geo.city'), asn: v('geo.asn'), bundled: v('geo.bundled') },
    names: { enabled: v('names.enabled'), maxEntries: v('names.maxEntries') },
    history: {
      enabled: v('history.enabled'),
      dataDir: v('dataDir'),
      flushIntervalMs: v('history.flushInterval'),
      minuteRetentionDays: v('history.minuteDays'),
      hourlyTopN: v('history.topN'),
      sessionLogDays: v('history.sessionLogDays'),
      liveSessionsLimit: v('history.liveSessions'),
      maxDiskBytes: v('history.maxDiskSize'),
    },
    billing: { cycleStartDay: v('billing.cycleStartDay'), cap: v('billing.cap'), capScope: v('billing.capScope'), capDirection: v('billing.capDirection') },
    influx,
    api: apiConfig(v, (key) => loaded.values.has(key)),
    alerts: alertsConfig(v),
    devices: parseDeviceSettings(v('devices')),
    loaded,
  };
}

export function configFrom(opts: LoadOptions): FlowlensConfig {
  return resolveConfig(loadConfig(opts));
}
