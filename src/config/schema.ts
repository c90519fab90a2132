/**
 * Every setting of flowlens in one table: its key in the YAML file, its
 * command-line flag, its environment variable, its type, default and limits.
 * The loader (load.ts), `flowlens config --dump`, `--help`, the README's
 * configuration table and every component's defaults (defaultStoreConfig,
 * defaultInfluxConfig) read this table, so a setting cannot exist in one place
 * and be missing, or have another default, in another.
 */

import { TALKER_DIMENSIONS } from '../flows/types.js';

export type SettingType =
  | 'string' | 'strings' | 'integer' | 'number' | 'boolean' | 'duration' | 'bytes' | 'enum' | 'cidrs' | 'rules' | 'path'
  | 'interfaces' | 'list';

export interface Setting {
  /** Dotted key in the YAML file ("history.flushInterval"). */
  key: string;
  type: SettingType;
  /** Default value in the type's parsed form (durations in ms); undefined: not set. */
  default?: unknown;
  flag?: string;
  env?: string;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Never printed (config --dump shows "<set>", errors do not show the value). */
  secret?: boolean;
  /** An integer setting that may also be a mapping of these names to integers ({ip: 50, port: 10}). */
  perName?: readonly string[];
  doc: string;
  /** For a --no-... flag: what the flag does (doc says what the setting, on, does). */
  offDoc?: string;
}

export const SETTINGS: readonly Setting[] = [
  { key: 'interfaces', type: 'interfaces', default: [], flag: 'iface', env: 'FLOWLENS_INTERFACES', doc: 'interfaces to count on, each with an optional gateway role wan or lan: eth0:wan,br0:lan on the command line, [{name: eth0, role: wan}, br0] in the file (docs/gateway.md)' },
  { key: 'hook', type: 'enum', values: ['xdp', 'tc'], default: 'xdp', flag: 'hook', env: 'FLOWLENS_HOOK', doc: 'ingress hook; egress always uses TC' },
  { key: 'xdpMode', type: 'enum', values: ['auto', 'native', 'generic'], default: 'auto', flag: 'xdp-mode', env: 'FLOWLENS_XDP_MODE', doc: 'XDP attach mode: auto uses native where the driver supports it' },
  { key: 'mapSize', type: 'integer', default: 65536, min: 1, max: 1 << 24, flag: 'map-size', env: 'FLOWLENS_MAP_SIZE', doc: 'flows per interval the kernel table holds; beyond it packets count into overflow' },
  { key: 'interval', type: 'duration', default: 1000, min: 100, max: 60_000, flag: 'interval', env: 'FLOWLENS_INTERVAL', doc: 'time between drains of the kernel table (the live resolution)' },
  { key: 'host', type: 'string', flag: 'host', env: 'FLOWLENS_HOST', doc: 'this host\'s name in stored and exported data (default: the hostname)' },
  { key: 'dataDir', type: 'path', default: '/var/lib/flowlens', flag: 'data-dir', env: 'FLOWLENS_DATA_DIR', doc: 'directory of the embedded history database' },
  { key: 'networks.local', type: 'cidrs', flag: 'local-networks', env: 'FLOWLENS_LOCAL_NETWORKS', doc: 'networks whose addresses are local (default: the private ranges plus networks.private)' },
  { key: 'networks.private', type: 'cidrs', default: [], flag: 'private-networks', env: 'FLOWLENS_PRIVATE_NETWORKS', doc: 'extra prefixes that are not the internet, e.g. your ISP-assigned IPv6 prefix' },
  { key: 'filters.ignore', type: 'rules', default: [], doc: 'drop matching traffic: a list of {cidr: [...], port: [...], protocol: [...], domain: [...]}' },
  { key: 'filters.keep', type: 'rules', default: [], doc: 'when set, keep only traffic matching one of these rules' },
  { key: 'sessions.idleTimeout', type: 'duration', default: 120_000, min: 1000, max: 86_400_000, flag: 'idle-timeout', doc: 'a UDP/ICMP/other session ends after this long without packets' },
  { key: 'sessions.tcpIdleTimeout', type: 'duration', default: 600_000, min: 1000, max: 7 * 86_400_000, flag: 'tcp-idle-timeout', doc: 'a TCP session ends after this long without packets' },
  { key: 'sessions.max', type: 'integer', default: 200_000, min: 1, max: 10_000_000, flag: 'max-sessions', doc: 'sessions tracked at once; beyond it traffic still counts but starts no session' },
  { key: 'geo.country', type: 'path', flag: 'geo-country', env: 'FLOWLENS_GEO_COUNTRY', doc: 'country mmdb (GeoLite2-Country or compatible)' },
  { key: 'geo.city', type: 'path', flag: 'geo-city', env: 'FLOWLENS_GEO_CITY', doc: 'city mmdb (GeoLite2-City or compatible; also answers country)' },
  { key: 'geo.asn', type: 'path', flag: 'geo-asn', env: 'FLOWLENS_GEO_ASN', doc: 'ASN mmdb (GeoLite2-ASN or compatible)' },
  { key: 'geo.bundled', type: 'boolean', default: true, flag: 'no-bundled-geo', offDoc: 'do not use the bundled DB-IP Lite country database (countries only from geo.country/geo.city)', doc: 'without geo.country/geo.city, use the DB-IP Lite country database shipped with flowlens (CC BY 4.0)' },
  { key: 'names.enabled', type: 'boolean', default: true, flag: 'no-names', offDoc: 'do not learn names (from DNS answers and TLS SNI)', doc: 'learn remote names from DNS answers and TLS SNI' },
  { key: 'names.captureBuffer', type: 'integer', default: 1 << 20, min: 4096, max: 1 << 30, flag: 'capture-buffer', doc: 'bytes of the kernel ring buffer that carries DNS answers and TLS hellos (a power of two); what does not fit is counted as dropped' },
  { key: 'names.maxEntries', type: 'integer', default: 100_000, min: 100, max: 10_000_000, doc: 'addresses with a remembered name' },
  { key: 'devices', type: 'list', default: [], doc: 'names for the LAN\'s devices, which win over learned ones: a list of {mac: aa:bb:cc:dd:ee:ff, name: laptop} or {address: 192.168.1.20, name: printer} (docs/gateway.md#devices)' },
  { key: 'history.enabled', type: 'boolean', default: true, flag: 'no-history', offDoc: 'do not keep history (no database is written)', doc: 'keep history in the embedded database' },
  { key: 'history.flushInterval', type: 'duration', default: 10_000, min: 1000, max: 3_600_000, flag: 'flush-interval', env: 'FLOWLENS_FLUSH_INTERVAL', doc: 'how often history is written; a crash loses at most this much plus one --interval' },
  { key: 'history.minuteDays', type: 'integer', default: 35, min: 1, max: 3660, doc: 'days of per-minute history kept (quarter-hour history is kept forever); a billing cycle\'s 95th percentile needs its 5-minute detail' },
  { key: 'history.topN', type: 'integer', default: 100, min: 1, max: 100_000, doc: 'talkers kept per dimension and hour (the rest are summed as "other")' },
  { key: 'history.sessionLogDays', type: 'integer', default: 30, min: 1, max: 3660, doc: 'days the log of ended sessions is kept' },
  { key: 'billing.cycleStartDay', type: 'integer', default: 1, min: 1, max: 28, flag: 'cycle-start-day', env: 'FLOWLENS_CYCLE_START_DAY', doc: 'day of the month a billing cycle starts (local midnight, the host\'s time zone)' },
  { key: 'billing.cap', type: 'bytes', min: 1, max: 2 ** 53 - 1, flag: 'cap', env: 'FLOWLENS_CAP', doc: 'data cap per billing cycle, e.g. 1TB (unset: no cap)' },
  { key: 'billing.capScope', type: 'enum', values: ['internet', 'all'], default: 'internet', doc: 'what counts against the cap: internet traffic, or all traffic' },
  { key: 'billing.capDirection', type: 'enum', values: ['both', 'up', 'down'], default: 'both', doc: 'which direction counts against the cap' },
  { key: 'history.liveSessions', type: 'integer', default: 1000, min: 0, max: 1_000_000, doc: 'active sessions (the largest by bytes) in the live snapshot `flowlens sessions` and the APIs show' },
  { key: 'history.maxDiskSize', type: 'bytes', default: 0, min: 0, max: 1024 ** 5, flag: 'history-max-disk', env: 'FLOWLENS_HISTORY_MAX_DISK', doc: 'bytes the history database may take on disk (0: no cap); over it the oldest ended sessions are deleted, traffic and talkers are always kept' },
  { key: 'influx.url', type: 'string', flag: 'influx-url', env: 'FLOWLENS_INFLUX_URL', doc: 'InfluxDB URL: setting it turns the InfluxDB writer on' },
  { key: 'influx.token', type: 'string', secret: true, flag: 'influx-token', env: 'FLOWLENS_INFLUX_TOKEN', doc: 'InfluxDB API token (prefer the environment or influx.tokenFile)' },
  { key: 'influx.tokenFile', type: 'path', flag: 'influx-token-file', env: 'FLOWLENS_INFLUX_TOKEN_FILE', doc: 'file holding the InfluxDB token' },
  { key: 'influx.org', type: 'string', flag: 'influx-org', env: 'FLOWLENS_INFLUX_ORG', doc: 'InfluxDB organisation' },
  { key: 'influx.bucket', type: 'string', flag: 'influx-bucket', env: 'FLOWLENS_INFLUX_BUCKET', doc: 'InfluxDB bucket (InfluxDB 3: the database)' },
  { key: 'influx.database', type: 'string', doc: 'InfluxDB 1.8: the database, instead of influx.bucket' },
  { key: 'influx.retentionPolicy', type: 'string', doc: 'InfluxDB 1.8: the retention policy (needs influx.database; default: the database\'s own)' },
  { key: 'influx.interval', type: 'duration', default: 10_000, min: 1000, max: 3_600_000, doc: 'write period: one point per series per period' },
  { key: 'influx.batchSize', type: 'integer', default: 5000, min: 1, max: 1_000_000, doc: 'most points per write request' },
  { key: 'influx.precision', type: 'enum', values: ['s', 'ms', 'us', 'ns'], default: 'ms', doc: 'timestamp precision of the points (s packs best; keep influx.interval at whole seconds then)' },
  { key: 'influx.gzip', type: 'boolean', default: true, doc: 'gzip request bodies over 1 KiB' },
  { key: 'influx.maxBufferPoints', type: 'integer', default: 100_000, min: 1, max: 100_000_000, doc: 'points waiting to be written, at most (beyond it the oldest are dropped and counted); at least influx.batchSize' },
  { key: 'influx.maxBufferBytes', type: 'bytes', default: 32 * 1024 * 1024, min: 64 * 1024, max: 16 * 1024 * 1024 * 1024, doc: 'bytes of line protocol waiting to be written, at most (32MiB, 64 MB and 1000000 are all sizes)' },
  { key: 'influx.seriesBudget', type: 'integer', default: 20, min: 0, max: 100_000, perName: TALKER_DIMENSIONS, doc: 'talker keys per dimension and period with their own series, the rest summed as "other"; a number, or per dimension: {ip: 50, port: 10}' },
  { key: 'influx.timeout', type: 'duration', default: 10_000, min: 100, max: 600_000, doc: 'timeout of one write request' },
  { key: 'influx.retryMin', type: 'duration', default: 1000, min: 10, max: 3_600_000, doc: 'first back-off after a failed write; it doubles up to influx.retryMax' },
  { key: 'influx.retryMax', type: 'duration', default: 60_000, min: 10, max: 3_600_000, doc: 'longest back-off between retries (at least influx.retryMin)' },
  { key: 'api.enabled', type: 'boolean', default: true, flag: 'no-api', offDoc: 'do not serve the JSON API, /metrics, the dashboard or the gRPC API', doc: 'serve the JSON API, /metrics and the gRPC API' },
  { key: 'api.listen', type: 'string', default: '127.0.0.1', flag: 'listen', env: 'FLOWLENS_LISTEN', doc: 'address the APIs listen on; any address but loopback needs api.tokensFile' },
  { key: 'api.httpPort', type: 'integer', default: 8080, min: 0, max: 65535, flag: 'http-port', env: 'FLOWLENS_HTTP_PORT', doc: 'port of the JSON API, /metrics and the dashboard (0: any free port, logged at start)' },
  { key: 'api.grpcPort', type: 'integer', default: 50051, min: 0, max: 65535, flag: 'grpc-port', env: 'FLOWLENS_GRPC_PORT', doc: 'port of the gRPC API (0: any free port, logged at start)' },
  { key: 'api.tokensFile', type: 'path', flag: 'tokens-file', env: 'FLOWLENS_TOKENS_FILE', doc: 'file of API tokens, one "read TOKEN" or "admin TOKEN" per line; when set every call needs one' },
  { key: 'api.tlsCert', type: 'path', flag: 'tls-cert', env: 'FLOWLENS_TLS_CERT', doc: 'PEM certificate (chain) for HTTPS and gRPC over TLS; needs api.tlsKey' },
  { key: 'api.tlsKey', type: 'path', flag: 'tls-key', env: 'FLOWLENS_TLS_KEY', doc: 'PEM private key of api.tlsCert' },
  { key: 'api.grpcClientCa', type: 'path', flag: 'grpc-client-ca', env: 'FLOWLENS_GRPC_CLIENT_CA', doc: 'PEM CA: gRPC clients must present a certificate it signed (needs TLS)' },
  { key: 'api.rateLimit', type: 'integer', default: 1200, min: 1, max: 10_000_000, flag: 'rate-limit', doc: 'requests per minute one client address may make (HTTP and gRPC each)' },
  { key: 'api.bodyLimit', type: 'integer', default: 65536, min: 1024, max: 16 << 20, doc: 'largest request body (HTTP) or message (gRPC) accepted, in bytes' },
  { key: 'api.metricsRemoteSeries', type: 'integer', default: 50, min: 0, max: 100_000, flag: 'metrics-remote-series', doc: 'remote addresses with their own /metrics series; the rest are summed as remote="other"' },
  { key: 'alerts.enabled', type: 'boolean', default: true, flag: 'no-alerts', offDoc: 'do not evaluate alert rules or run the attack detectors', doc: 'evaluate alert rules and the attack detectors (docs/alerts.md)' },
  { key: 'alerts.rules', type: 'list', default: [], doc: 'threshold and quota rules: a list of {name, metric, window, subject, above/below, for, hysteresis} or {name, quota, subject} (docs/alerts.md)' },
  { key: 'alerts.webhooks', type: 'list', default: [], doc: 'webhook receivers: a list of {name, url, secret, rateLimit, timeout}' },
  { key: 'alerts.emails', type: 'list', default: [], doc: 'email receivers: a list of {name, url: smtp://host:port, from, to, rateLimit}' },
  { key: 'alerts.portScan', type: 'integer', default: 100, min: 0, max: 65536, doc: 'port scan: refused or unanswered ports of one host from one source within alerts.scanWindow (0: off)' },
  { key: 'alerts.hostSweep', type: 'integer', default: 64, min: 0, max: 1 << 24, doc: 'host sweep: refused or unanswered hosts on one port from one source within alerts.scanWindow (0: off)' },
  { key: 'alerts.scanWindow', type: 'duration', default: 60_000, min: 1000, max: 3_600_000, doc: 'window of the port scan and host sweep detectors' },
  { key: 'alerts.synFlood', type: 'integer', default: 1000, min: 0, max: 1e9, doc: 'SYN flood: SYNs per second without a completed handshake to one victim (0: off)' },
  { key: 'alerts.udpFlood', type: 'integer', default: 100_000, min: 0, max: 1e9, doc: 'UDP flood: UDP packets per second to one victim (0: off)' },
  { key: 'alerts.icmpFlood', type: 'integer', default: 2000, min: 0, max: 1e9, doc: 'ICMP flood: ICMP packets per second to one victim (0: off)' },
  { key: 'alerts.amplification', type: 'bytes', default: 1_000_000, min: 0, max: 1e12, doc: 'amplification: bytes per second of UDP answers from ports 53/123/11211/19/1900 to one victim, at 10× its queries or more (0: off)' },
  { key: 'alerts.anomaly', type: 'integer', default: 6, min: 0, max: 100, doc: 'traffic anomaly: how many median absolute deviations above the hour-of-week baseline a rate must be to fire (0: off; docs/alerts.md)' },
  { key: 'alerts.anomalyRatio', type: 'integer', default: 4, min: 1, max: 1000, doc: 'traffic anomaly: the rate must also be at least this many times the baseline' },
  { key: 'alerts.anomalyMinRate', type: 'bytes', default: 125_000, min: 0, max: 1e12, doc: 'traffic anomaly: and at least this many bytes per second above the baseline (125kB: 1 Mbit/s)' },
  { key: 'alerts.anomalyWindow', type: 'duration', default: 900_000, min: 1000, max: 3_600_000, doc: 'traffic anomaly: the recent rate is the mean over this window' },
  { key: 'alerts.anomalyMinWeeks', type: 'integer', default: 3, min: 1, max: 8, doc: 'traffic anomaly: weeks of history an hour of the week needs before it can fire (cold start)' },
  { key: 'alerts.anomalyDevices', type: 'integer', default: 20, min: 0, max: 1000, doc: 'traffic anomaly: the largest local hosts of the learned weeks that get their own baseline (0: interfaces only)' },
  { key: 'alerts.newCountry', type: 'boolean', default: false, doc: 'info alert when a local host talks to a country it has not talked to in alerts.newPeerPeriod' },
  { key: 'alerts.newAsn', type: 'boolean', default: false, doc: 'info alert when a local host talks to an ASN it has not talked to in alerts.newPeerPeriod' },
  { key: 'alerts.newDomain', type: 'boolean', default: false, doc: 'info alert when a local host talks to a domain it has not talked to in alerts.newPeerPeriod' },
  { key: 'alerts.newPeerPeriod', type: 'duration', default: 30 * 86_400_000, min: 86_400_000, max: 366 * 86_400_000, doc: 'what the new country/ASN/domain alerts learn from the session log (at most history.sessionLogDays)' },
  { key: 'alerts.contributors', type: 'integer', default: 5, min: 1, max: 100, doc: 'sessions and talkers kept with each alert' },
  { key: 'alerts.queueLimit', type: 'integer', default: 10_000, min: 10, max: 10_000_000, doc: 'notifications waiting to be delivered, at most (beyond it the oldest are dropped and counted)' },
  { key: 'capture.ringSize', type: 'integer', default: 4 << 20, min: 0, max: 1 << 30, flag: 'capture-ring', env: 'FLOWLENS_CAPTURE_RING', doc: 'bytes of the kernel ring buffer that carries packet captures (flowlens capture, GET /api/capture): a power of two of at least 262144, read every 10 ms while a capture runs; 0 loads without packet captures' },
];

const byKey = new Map(SETTINGS.map((s) => [s.key, s]));

/** The row of `key`; a key that is not in the table is a programming error. */
export function setting(key: string): Setting {
  const s = byKey.get(key);
  if (!s) throw new Error(`no setting "${key}" in src/config/schema.ts`);
  return s;
}

/** The default of `key` (durations in ms), for components that need one without a loaded configuration. */
export function settingDefault<T>(key: string): T {
  const s = setting(key);
  if (s.default === undefined) throw new Error(`setting "${key}" has no default`);
  return s.default as T;
}
