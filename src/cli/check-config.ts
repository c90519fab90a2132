/**
 * `flowlens config --check`: everything `flowlens run` would refuse, found
 * without attaching anything: values (already checked while loading), the
 * interfaces, and the files the configuration names.
 */
import { accessSync, constants } from 'node:fs';
import type { FlowlensConfig } from '../config/index.js';
import { validateConfig } from '../collector/config.js';
import { resolveInterfaces } from '../system/interfaces.js';
import { FlowlensError } from '../errors.js';

export async function checkConfig(config: FlowlensConfig): Promise<void> {
  validateConfig(config.collector);
  resolveInterfaces(config.collector.interfaces);
  for (const [key, file] of Object.entries(config.geo)) {
    if (!file) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new FlowlensError('FLOW_ERR_USAGE', `geo.${key}: cannot read ${file}`, 'check the path and its permissions, or remove the setting to run without it');
    }
  }
}
