/**
 * `flowlens config --check`: everything `flowlens run` would refuse, found
 * without attaching anything: values (already checked while loading), the
 * interfaces, and the files the configuration names.
 */
import type { FlowlensConfig } from '../config/index.js';
import { validateConfig } from '../collector/config.js';
import { resolveInterfaces } from '../system/interfaces.js';
import { GeoLookup } from '../enrich/geo.js';
import { influxConfigFrom } from '../sinks/influx/index.js';
import { readApiFiles } from '../api/index.js';
import { checkListenAddress } from '../api/listen-address.js';
import { FlowlensError } from '../errors.js';

export async function checkConfig(config: FlowlensConfig): Promise<void> {
  // every check runs, and every problem is reported at once (not only the first)
  const found: FlowlensError[] = [];
  const check = async (fn: () => unknown) => {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof FlowlensError)) throw e;
      found.push(e);
    }
  };
  await check(() => validateConfig(config.collector));
  await check(() => resolveInterfaces(config.collector.interfaces));
  // opening the databases finds what a path check cannot: a file that is not an mmdb
  await check(async () => (await GeoLookup.open(config.geo, () => false, { watch: false })).close());
  if (config.influx) await check(() => influxConfigFrom(config.influx!)); // also reads influx.tokenFile
  if (config.api.enabled) {
    await check(async () => {
      const { tokens } = readApiFiles(config.api); // tokens file, TLS certificate and key, client CA
      await checkListenAddress(config.api.listen, tokens.required); // localhost: what it resolves to
    });
  }
  if (found.length === 1) throw found[0];
  if (found.length > 1) {
    throw new FlowlensError('FLOW_ERR_USAGE', `${found.length} problems in the configuration:\n${found.map((e) => `  ${e.message}${e.hint ? ` — ${e.hint}` : ''}`).join('\n')}`,
      'fix them all, then check again with flowlens config --check');
  }
}
