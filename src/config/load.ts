/**
 * Loads the configuration: defaults, then the YAML file, then environment
 * variables, then command-line flags (each overrides the one before), and
 * validates every value against the table in schema.ts. An error names the
 * setting, where it came from (file, variable or flag) and what is wrong; every
 * command (run, config, history, top, sessions) loads its settings here, and
 * every wrong value is reported at once.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseDocument, stringify } from 'yaml';
import { FlowlensError } from '../errors.js';
import { parseCidr } from '../net/cidr.js';
import { SETTINGS, type Setting } from './schema.js';
import { INTERFACE_ROLES, type InterfaceRole, type InterfaceSetting } from '../collector/config.js';
import { Problems } from './problems.js';
import { durationText, parseSettingDuration, parseSize, sizeText } from './units.js';

export const DEFAULT_CONFIG_FILE = '/etc/flowlens/flowlens.yaml';

export type Source = 'default' | 'file' | 'env' | 'flag';

export interface LoadOptions {
  /** --config; when undefined, FLOWLENS_CONFIG or DEFAULT_CONFIG_FILE if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** parseArgs values of the command (flag name → value). */
  flags?: Record<string, string | boolean | undefined>;
}

export interface LoadedConfig {
  /** Setting key → parsed value (durations in ms). Unset optional settings are absent. */
  values: Map<string, unknown>;
  sources: Map<string, Source>;
  file?: string;
}

const bySetting = new Map(SETTINGS.map((s) => [s.key, s]));

function usage(message: string, hint?: string): never {
  throw new FlowlensError('FLOW_ERR_USAGE', message, hint);
}

function range(s: Setting, text: (n: number) => string): string {
  if (s.min !== undefined && s.max !== undefined) return ` from ${text(s.min)} to ${text(s.max)}`;
  if (s.min !== undefined) return ` of at least ${text(s.min)}`;
  return s.max !== undefined ? ` of at most ${text(s.max)}` : '';
}

function describe(s: Setting): string {
  switch (s.type) {
    case 'integer': return `a whole number${range(s, String)}${s.perName ? `, or one per ${s.perName.slice(0, 2).join(', ')}, ... like {${s.perName[0]}: 50}` : ''}`;
    case 'number': return 'a number';
    case 'duration': return `a duration${range(s, durationText)} like 500ms, 10s, 2m or 1h`;
    case 'bytes': return `a size${range(s, sizeText)} like 32MiB or 1000000`;
    case 'boolean': return 'true or false';
    case 'enum': return `one of ${s.values!.join(', ')}`;
    case 'strings': return 'a list of names';
    case 'interfaces': return 'a list of interface names, each optionally with a role: eth0:wan,br0:lan or [{name: eth0, role: wan}]';
    case 'cidrs': return 'a list of addresses or CIDR prefixes';
    case 'rules': return 'a list of rules like {port: [22]}, {cidr: [10.0.0.0/8], protocol: [udp]} or {domain: [example.com]}';
    case 'list': return 'a list (see the docs of the setting)';
    default: return 'a non-empty string';
  }
}

function list(raw: unknown): unknown[] {
  if (Array.isArray(raw)) return raw;
  if (typeof raw === 'string') return raw.split(',').map((x) => x.trim()).filter(Boolean);
  return [raw];
}

const inRange = (s: Setting, n: number) => (s.min === undefined || n >= s.min) && (s.max === undefined || n <= s.max);

/**
 * Parses one value (text from a flag or variable, or a YAML value) into the
 * setting's type; `where` names it in the error ("file.yaml: influx.interval",
 * "--interval", "FLOWLENS_INTERVAL").
 */
export function parseSetting(s: Setting, raw: unknown, where: string): unknown {
  const bad = (): never => usage(`${where} must be ${describe(s)}${s.secret ? '' : `, not ${JSON.stringify(raw)}`}`);
  switch (s.type) {
    case 'string':
    case 'path':
      if (typeof raw !== 'string' && typeof raw !== 'number') bad();
      if (String(raw).trim() === '') bad();
      return String(raw).trim();
    case 'enum':
      if (!s.values!.includes(String(raw))) bad();
      return String(raw);
    case 'integer': {
      if (s.perName && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
        return Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([name, v]) => {
          if (!s.perName!.includes(name)) usage(`${where}.${name} is not one of ${s.perName!.join(', ')}`);
          return [name, parseSetting({ ...s, perName: undefined }, v, `${where}.${name}`)];
        }));
      }
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || !inRange(s, n)) bad();
      return n;
    }
    case 'number': {
      const n = Number(raw);
      if (raw === '' || !Number.isFinite(n)) bad();
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (/^(true|yes|on|1)$/i.test(String(raw))) return true;
      if (/^(false|no|off|0)$/i.test(String(raw))) return false;
      return bad();
    case 'duration': {
      const ms = typeof raw === 'string' || typeof raw === 'number' ? parseSettingDuration(String(raw)) : NaN;
      if (!Number.isFinite(ms) || !inRange(s, ms)) bad();
      return ms;
    }
    case 'bytes': {
      const n = parseSize(raw);
      if (!Number.isInteger(n) || !inRange(s, n)) bad();
      return n;
    }
    case 'strings': {
      const items = list(raw);
      if (!items.every((x) => typeof x === 'string' && x.trim() !== '')) bad();
      return items.map((x) => String(x).trim());
    }
    case 'interfaces':
      return list(raw).map((x, i) => parseInterface(x, `${where}[${i}]`));
    case 'cidrs':
      return list(raw).map((x) => {
        if (typeof x !== 'string') bad();
        return parseCidr(x as string, where).text;
      });
    case 'list':
      // the component checks the entries (resolveConfig), all at once
      if (!Array.isArray(raw)) bad();
      return raw;
    case 'rules': {
      if (!Array.isArray(raw)) bad();
      return (raw as unknown[]).map((rule, i) => {
        if (!rule || typeof rule !== 'object' || Array.isArray(rule)) usage(`${where}[${i}] must be a rule like {port: [22]}`);
        const out: Record<string, unknown[]> = {};
        for (const [k, v] of Object.entries(rule as Record<string, unknown>)) {
          if (k === 'cidr') out.cidr = list(v).map((x) => parseCidr(String(x), `${where}[${i}].cidr`).text);
          else if (k === 'port') {
            out.port = list(v).map((x) => {
              const n = Number(x);
              if (!Number.isInteger(n) || n < 0 || n > 65535) usage(`${where}[${i}].port: ${JSON.stringify(x)} is not a port (0-65535)`);
              return n;
            });
          } else if (k === 'protocol') out.protocol = list(v).map(String);
          else if (k === 'domain') {
            out.domain = list(v).map((x) => {
              const d = String(x).trim().toLowerCase().replace(/^\*?\./, '').replace(/\.$/, '');
              if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(d)) usage(`${where}[${i}].domain: ${JSON.stringify(x)} is not a domain name`, 'write a name like example.com (it matches its subdomains too)');
              return d;
            });
          } else usage(`${where}[${i}] has an unknown field "${k}"`, 'a rule has cidr, port, protocol and/or domain');
        }
        return out;
      });
    }
  }
}

/** One interfaces entry: "eth0", "eth0:wan" or {name: eth0, role: wan}. */
function parseInterface(raw: unknown, where: string): InterfaceSetting {
  let name: unknown = raw;
  let role: unknown;
  if (typeof raw === 'string') {
    const at = raw.indexOf(':');
    if (at >= 0) { name = raw.slice(0, at); role = raw.slice(at + 1).trim(); }
  } else if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const unknown = Object.keys(raw).filter((k) => k !== 'name' && k !== 'role');
    if (unknown.length) usage(`${where} has an unknown field "${unknown[0]}"`, 'an interface is {name: eth0, role: wan}');
    ({ name, role } = raw as { name?: unknown; role?: unknown });
  }
  if (typeof name !== 'string' || name.trim() === '' || /[\s/:]/.test(name.trim())) {
    usage(`${where} must be an interface name, optionally with a role (eth0, eth0:wan or {name: eth0, role: wan}), not ${JSON.stringify(raw)}`);
  }
  if (role === undefined || role === null || role === '' || role === 'none') return { name: name.trim() };
  if (!(INTERFACE_ROLES as readonly unknown[]).includes(role)) {
    usage(`${where}: the role of ${name.trim()} must be ${INTERFACE_ROLES.join(' or ')} (or none), not ${JSON.stringify(role)}`,
      'wan: towards the internet (upstream); lan: towards local devices');
  }
  return { name: name.trim(), role: role as InterfaceRole };
}

/** A typo of `known`: one shares the other's first four letters, or they differ in at most two letters (edit distance). */
function nearMiss(key: string, known: string): boolean {
  const a = key.toLowerCase(), b = known.toLowerCase();
  const leaf = (x: string) => x.slice(x.lastIndexOf('.') + 1);
  if (b.includes(leaf(a).slice(0, 4))) return true;
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length] <= 2;
}

/** Flattens the YAML document into dotted keys, refusing unknown ones. */
function flattenFile(doc: Record<string, unknown>, file: string, into: Map<string, unknown>, problems: Problems): void {
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      const setting = bySetting.get(key);
      if (setting) {
        into.set(key, v);
        continue;
      }
      if (v && typeof v === 'object' && !Array.isArray(v) && SETTINGS.some((s) => s.key.startsWith(`${key}.`))) {
        walk(v as Record<string, unknown>, key);
        continue;
      }
      const near = SETTINGS.map((s) => s.key).filter((s) => nearMiss(key, s));
      const section = prefix ? SETTINGS.filter((s) => s.key.startsWith(`${prefix}.`)).map((s) => s.key.slice(prefix.length + 1)) : [];
      problems.add(`${file}: unknown setting "${key}"`, near.length ? `did you mean ${near.slice(0, 3).join(', ')}? (flowlens config --dump lists every setting)`
        : section.length ? `the ${prefix} settings are ${section.join(', ')}` : 'flowlens config --dump lists every setting');
    }
  };
  walk(doc, '');
}

function readFile(file: string, explicit: boolean): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return undefined;
    usage(`cannot read the config file ${file}: ${code === 'ENOENT' ? 'it does not exist' : (e as Error).message}`,
      code === 'EACCES' ? 'check its permissions' : 'give the right path with --config');
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    // every YAML error of the file at once
    const where = (err: (typeof doc.errors)[number]) => {
      const line = err.linePos?.[0];
      return `${file}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML: ${err.message.split('\n')[0]}`;
    };
    if (doc.errors.length === 1) usage(where(doc.errors[0]!));
    usage(`${doc.errors.length} YAML errors:\n${doc.errors.map((e) => `  ${where(e)}`).join('\n')}`, 'fix them all, then check again with flowlens config --check');
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) usage(`${file}: the top level must be a mapping of settings (key: value)`);
  return value as Record<string, unknown>;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const flags = opts.flags ?? {};
  const values = new Map<string, unknown>();
  const sources = new Map<string, Source>();
  const problems = new Problems();
  for (const s of SETTINGS) {
    if (s.default !== undefined) { values.set(s.key, s.default); sources.set(s.key, 'default'); }
  }

  const explicit = opts.file ?? env.FLOWLENS_CONFIG;
  const file = explicit ?? DEFAULT_CONFIG_FILE;
  const doc = readFile(file, explicit !== undefined);
  if (doc) {
    const raw = new Map<string, unknown>();
    flattenFile(doc, file, raw, problems);
    for (const [key, v] of raw) set(bySetting.get(key)!, v, `${file}: ${key}`, 'file');
  }
  for (const s of SETTINGS) {
    const v = s.env ? env[s.env] : undefined;
    if (v !== undefined && v !== '') set(s, v, s.env!, 'env');
  }
  for (const s of SETTINGS) {
    if (!s.flag || flags[s.flag] === undefined) continue;
    set(s, s.type === 'boolean' && s.flag.startsWith('no-') ? !flags[s.flag] : flags[s.flag], `--${s.flag}`, 'flag');
  }
  // every wrong value of the file, the environment and the flags at once
  problems.throwIfAny();
  if (!values.has('host')) { values.set('host', os.hostname()); sources.set('host', 'default'); }
  return { values, sources, file: doc ? file : undefined };

  function set(s: Setting, raw: unknown, where: string, source: Source): void {
    const parsed = problems.check(() => parseSetting(s, raw, where));
    if (parsed === undefined) return;
    values.set(s.key, parsed);
    sources.set(s.key, source);
  }
}

/** parseArgs options for every setting that has a flag. */
export function settingFlags(): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(SETTINGS.filter((s) => s.flag).map((s) => [s.flag!, { type: s.type === 'boolean' ? 'boolean' as const : 'string' as const }]));
}

/** The flags' help lines, from the table. */
export function settingsHelp(): string {
  return SETTINGS.filter((s) => s.flag).map((s) => {
    const arg = s.type === 'boolean' ? '' : s.type === 'enum' ? ` ${s.values!.join('|')}` : ` ${s.type === 'duration' ? 'DUR' : s.type === 'integer' ? 'N' : s.type === 'path' ? 'PATH' : 'VALUE'}`;
    return `  --${`${s.flag}${arg}`.padEnd(30)} ${s.offDoc ?? s.doc}${s.env ? ` [${s.env}]` : ''}`;
  }).join('\n');
}

/** A list setting's entries with `secret` fields and URL passwords (smtp://user:pass@...) shown as <set>. */
function hideListSecrets(list: unknown[]): unknown[] {
  return list.map((e) => {
    if (!e || typeof e !== 'object' || Array.isArray(e)) return e;
    return Object.fromEntries(Object.entries(e as Record<string, unknown>).map(([k, x]) => [k,
      k === 'secret' ? '<set>' : typeof x === 'string' ? x.replace(/^([a-z]+:\/\/[^:@/]+):[^@/]+@/, '$1:<set>@') : x]));
  });
}

/** The effective configuration as YAML, secrets hidden, each value's source as a comment. */
export function dumpConfig(c: LoadedConfig): string {
  const tree: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    if (!c.values.has(s.key)) continue;
    let v = c.values.get(s.key);
    if (s.secret) v = '<set>';
    else if (s.type === 'list') v = hideListSecrets(v as unknown[]);
    else if (s.type === 'duration') v = `${v}ms`;
    else if (s.type === 'bytes') v = sizeText(v as number);
    else if (s.type === 'interfaces') v = (v as InterfaceSetting[]).map((i) => (i.role ? { name: i.name, role: i.role } : i.name));
    const parts = s.key.split('.');
    let node = tree;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = v;
  }
  const sources = SETTINGS.filter((s) => c.sources.get(s.key) && c.sources.get(s.key) !== 'default')
    .map((s) => `#   ${s.key}: ${c.sources.get(s.key)}`);
  return `# flowlens configuration${c.file ? ` (file: ${c.file})` : ' (no config file)'}\n` +
    (sources.length ? `# set by file, environment or flags:\n${sources.join('\n')}\n` : '') + stringify(tree);
}
