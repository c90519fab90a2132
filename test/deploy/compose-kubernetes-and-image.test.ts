/**
 * The container deployment files, checked by what runs here (Docker and
 * Kubernetes do not): they parse as YAML, flowlens runs on the host network
 * with exactly CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON and never privileged,
 * the names that must agree do (InfluxDB org/bucket/URL/token across flowlens,
 * InfluxDB and Grafana; probe port and health path against the API settings),
 * the configuration files they ship load through flowlens's own loader and
 * writer validation, and every file they copy or mount exists.
 */
import t, { type Test } from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { repoRoot } from '../../src/native/binding.js';
import { configFrom } from '../../src/config/index.js';
import { influxConfigFrom, validateInfluxConfig } from '../../src/sinks/influx/index.js';

const deploy = (...p: string[]) => path.join(repoRoot, 'deploy', ...p);
const CAPS = ['BPF', 'NET_ADMIN', 'PERFMON'];
// parsed YAML: shapes are checked by the assertions themselves
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function yamlDocs(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as Obj);
}

/** flowlens's own loader on a configuration text (no environment, no flags). */
function loadFlowlensConfig(t: Test, text: string, name: string) {
  const file = path.join(t.testdir(), name);
  writeFileSync(file, text);
  return configFrom({ file, env: {}, flags: {} });
}

t.test('compose: flowlens on the host network with three capabilities, InfluxDB 2 and Grafana agree on names', async (t) => {
  const [compose] = yamlDocs(deploy('docker-compose.yml'));
  const { flowlens, influxdb, grafana } = compose.services;
  t.ok(flowlens && influxdb && grafana, 'three services');

  t.equal(flowlens.network_mode, 'host', 'host network: it counts the host\'s interfaces');
  t.same(flowlens.cap_drop, ['ALL']);
  t.same([...flowlens.cap_add].sort(), CAPS);
  t.notOk(flowlens.privileged, 'not privileged');
  t.equal(flowlens.build.dockerfile, 'deploy/Dockerfile');
  t.ok(existsSync(path.join(deploy(), flowlens.build.context, flowlens.build.dockerfile)), 'the Dockerfile is where the build looks');
  t.match(flowlens.environment.FLOWLENS_INFLUX_TOKEN, /^\$\{INFLUX_TOKEN:\?/, 'the token is required from .env, never written here');

  // flowlens → InfluxDB: the port InfluxDB publishes on the host's loopback
  const published = influxdb.ports.map((p: string) => /^127\.0\.0\.1:(\d+):8086$/.exec(p)?.[1]).find(Boolean);
  t.equal(flowlens.environment.FLOWLENS_INFLUX_URL, `http://127.0.0.1:${published}`);
  const init = influxdb.environment;
  t.equal(init.DOCKER_INFLUXDB_INIT_MODE, 'setup');
  t.equal(flowlens.environment.FLOWLENS_INFLUX_ORG, init.DOCKER_INFLUXDB_INIT_ORG);
  t.equal(flowlens.environment.FLOWLENS_INFLUX_BUCKET, init.DOCKER_INFLUXDB_INIT_BUCKET);
  t.equal(init.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN, flowlens.environment.FLOWLENS_INFLUX_TOKEN, 'one token for both');
  t.equal(grafana.environment.INFLUX_TOKEN, flowlens.environment.FLOWLENS_INFLUX_TOKEN, 'and for Grafana');
  t.match(influxdb.image, /^influxdb:2\./, 'InfluxDB 2');

  // Grafana: provisioning and dashboards mounted from files that exist
  for (const v of grafana.volumes.filter((v: string) => v.startsWith('./'))) {
    t.ok(existsSync(deploy(v.split(':')[0])), `mounted ${v.split(':')[0]} exists`);
  }
  const [ds] = yamlDocs(deploy('grafana/provisioning/datasources/flowlens.yaml'));
  const source = ds.datasources[0];
  t.equal(source.type, 'influxdb');
  t.equal(new URL(source.url).hostname, 'influxdb', 'the data source reaches the influxdb service by name');
  t.equal(source.jsonData.version, 'Flux');
  t.equal(source.jsonData.organization, init.DOCKER_INFLUXDB_INIT_ORG);
  t.equal(source.jsonData.defaultBucket, init.DOCKER_INFLUXDB_INIT_BUCKET);
  t.equal(source.secureJsonData.token, '$INFLUX_TOKEN', 'the token from Grafana\'s environment');
  const [dashProv] = yamlDocs(deploy('grafana/provisioning/dashboards/flowlens.yaml'));
  const mount = grafana.volumes.find((v: string) => v.startsWith('./grafana/dashboards:')).split(':')[1];
  t.equal(dashProv.providers[0].options.path, mount, 'the dashboards provider reads where they are mounted');

  // the configuration mounted into flowlens loads, and with the compose environment the writer validates
  const cfgMount = flowlens.volumes.find((v: string) => v.endsWith(':/etc/flowlens/flowlens.yaml:ro'));
  t.ok(cfgMount, 'configuration mounted at the default path');
  const cfg = configFrom({
    file: deploy(cfgMount.split(':')[0]), flags: {},
    env: { FLOWLENS_INFLUX_URL: flowlens.environment.FLOWLENS_INFLUX_URL, FLOWLENS_INFLUX_ORG: flowlens.environment.FLOWLENS_INFLUX_ORG,
      FLOWLENS_INFLUX_BUCKET: flowlens.environment.FLOWLENS_INFLUX_BUCKET, FLOWLENS_INFLUX_TOKEN: 'a-token' },
  });
  const influx = influxConfigFrom(cfg.influx!);
  t.same([influx.url, influx.org, influx.bucket, influx.token], [`http://127.0.0.1:${published}`, 'flowlens', 'flowlens', 'a-token']);

  const example = readFileSync(deploy('env.example'), 'utf8');
  const needed = [...readFileSync(deploy('docker-compose.yml'), 'utf8').matchAll(/\$\{(\w+)/g)].map((m) => m[1]);
  for (const v of new Set(needed)) t.match(example, new RegExp(`^${v}=`, 'm'), `env.example lists ${v}`);
});

t.test('Kubernetes: a DaemonSet on the host network with three capabilities, probes on /api/health', async (t) => {
  const docs = yamlDocs(deploy('kubernetes/flowlens.yaml'));
  t.same(docs.map((d) => d.kind), ['Namespace', 'ConfigMap', 'DaemonSet']);
  const [ns, cm, ds] = docs;
  t.equal(cm.metadata.namespace, ns.metadata.name);
  t.equal(ds.metadata.namespace, ns.metadata.name);
  const pod = ds.spec.template.spec;
  t.same(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels, 'the selector matches the pods');
  t.equal(pod.hostNetwork, true, 'host network');
  t.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet', 'cluster DNS on the host network');
  t.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  t.same(c.securityContext.capabilities.drop, ['ALL']);
  t.same([...c.securityContext.capabilities.add].sort(), CAPS);
  t.notOk(c.securityContext.privileged, 'not privileged');
  t.equal(c.securityContext.allowPrivilegeEscalation, false);

  const config = loadFlowlensConfig(t, cm.data['flowlens.yaml'], 'k8s.yaml');
  const port = config.loaded.values.get('api.httpPort');
  const listen = config.loaded.values.get('api.listen');
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    t.equal(probe.httpGet.path, '/api/health');
    t.equal(probe.httpGet.port, port, 'the port the API listens on');
    t.equal(probe.httpGet.host, listen, 'the address it listens on (the kubelet shares the host network)');
  }
  t.equal(c.ports[0].containerPort, port);
  const influx = influxConfigFrom({ ...config.influx, token: 'from-the-secret' });
  t.equal(influx.intervalMs, 10_000);
  const token = c.env.find((e: Obj) => e.name === 'FLOWLENS_INFLUX_TOKEN');
  t.ok(token.valueFrom.secretKeyRef, 'the token comes from a Secret');
  t.same(c.env.find((e: Obj) => e.name === 'FLOWLENS_HOST').valueFrom.fieldRef, { fieldPath: 'spec.nodeName' }, 'host tag: the node name');

  t.same(c.args.slice(-4), ['--config', '/etc/flowlens/flowlens.yaml', '--format', 'none'], 'the configuration file; no table per interval in the log');
  const volumes = new Set(pod.volumes.map((v: Obj) => v.name));
  for (const m of c.volumeMounts) t.ok(volumes.has(m.name), `volume ${m.name} is defined`);
  t.equal(c.volumeMounts.find((m: Obj) => m.name === 'config').mountPath, '/etc/flowlens');
  t.equal(pod.volumes.find((v: Obj) => v.name === 'config').configMap.name, cm.metadata.name);
  t.equal(c.volumeMounts.find((m: Obj) => m.mountPath === '/var/lib/flowlens')?.name, 'data', 'history on the node');
});

t.test('the sample configuration loads', async (t) => {
  const cfg = configFrom({ file: deploy('flowlens.yaml'), env: {}, flags: {} });
  t.same(cfg.collector.interfaces, ['eth0']);
  t.equal(cfg.history.dataDir, '/var/lib/flowlens');
  t.equal(cfg.influx, undefined, 'no InfluxDB writer unless configured');
  const text = readFileSync(deploy('flowlens.yaml'), 'utf8');
  const uncommented = text.replace(/^# (influx:)$/m, '$1').replace(/^# ( {2}\w+:.*)$/gm, '$1');
  const example = parse(uncommented).influx as Obj;
  t.equal(example.tokenFile, '/etc/flowlens/influx-token');
  const tokenFile = path.join(t.testdir(), 'influx-token');
  writeFileSync(tokenFile, 'a-token\n');
  const influx = validateInfluxConfig({ ...example, tokenFile }, 'influx');
  t.equal(influx.maxBufferBytes, 32 * 1024 * 1024, 'the commented influx example is valid once uncommented');
});

t.test('Dockerfile: a build stage and a runtime stage with only what runs; everything it copies exists', async (t) => {
  const text = readFileSync(deploy('Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);
  t.equal(stages.length, 2, 'two stages');
  t.match(stages[0], /^\$\{NODE_IMAGE\} AS build/);
  t.match(stages[1], /^\$\{NODE_IMAGE\}-slim AS runtime/);
  t.match(text, /^ARG NODE_IMAGE=node:20-bookworm$/m, 'Node 20 on Debian 12');
  t.match(stages[0], /scripts\/build\.sh/, 'the build stage runs the project\'s build (BPF, addon, TypeScript)');
  t.match(stages[0], /build:ui --if-present/, 'and the UI once it has a build script');
  t.notMatch(stages[1], /\b(clang|bpftool|npm ci|g\+\+|libbpf-dev)\b/, 'no toolchain in the runtime stage');
  t.match(stages[1], /libbpf1/, 'the runtime has libbpf');
  t.match(stages[1], /ENTRYPOINT \["node", "--max-semi-space-size=64", "\/opt\/flowlens\/dist\/src\/cli\.js"\]/);
  for (const m of text.matchAll(/^COPY (?!--from)(\S+) /gm)) {
    for (const src of m[1].split(' ')) t.ok(existsSync(path.join(repoRoot, src)), `COPY source ${src} exists`);
  }
  t.notMatch(text, /https?:\/\//, 'no registry host written in the image recipe');
});
