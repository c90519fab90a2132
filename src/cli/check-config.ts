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

export async function checkConfig(config: FlowlensConfig): Promise<void> {
  validateConfig(config.collector);
  resolveInterfaces(config.collector.interfaces);
  // opening the databases finds what a path check cannot: a file that is not an mmdb
  const geo = await GeoLookup.open(config.geo, () => false, { watch: false });
  geo.close();
  if (config.influx) influxConfigFrom(config.influx); // also reads influx.tokenFile
  if (config.api.enabled) {
    const { tokens } = readApiFiles(config.api); // tokens file, TLS certificate and key, client CA
    await checkListenAddress(config.api.listen, tokens.required); // localhost: what it resolves to
  }
}
