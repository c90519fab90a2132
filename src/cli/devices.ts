/**
 * `flowlens devices`: the LAN's devices as the history keeps them (what a
 * running flowlens learned: MACs, addresses, DHCP/mDNS names), with the names
 * of the settings file's `devices:` list, each MAC's vendor, and today's
 * traffic of its addresses.
 */
import { loadConfig, parseDeviceSettings } from '../config/index.js';
import { DeviceTable, type Device } from '../enrich/devices.js';
import { formatBytes, table } from './format.js';
import { outputFormat, printJson, STORE_OPTIONS, STORE_USAGE, withStore, localTime, type CliCommand } from './store-options.js';

/** Local-host talkers summed per device: the store's largest page (history.topN per hour is far less). */
const HOST_ROWS = 10_000;

interface DeviceRow extends Device {
  /** Today (local time): the bytes of its addresses, up (device → anywhere) and down. */
  bytesUp: number;
  bytesDown: number;
}

export const devicesCli: CliCommand = {
  summary: 'the LAN\'s devices: MAC, vendor, name, addresses and today\'s traffic (from the store)',
  usage: `flowlens devices [options]

Devices are the local addresses flowlens run saw in the neighbour table of the interfaces it
counts on (the lan ones on a gateway), grouped by MAC; names come from the settings file's
devices: list, else from DHCP requests (host name) and mDNS answers (docs/gateway.md#devices).
${STORE_USAGE}`,
  options: { ...STORE_OPTIONS },
  async main(v) {
    const format = outputFormat(v);
    const settings = parseDeviceSettings(loadConfig({ file: v.config as string | undefined }).values.get('devices'));
    return withStore(v, (store) => {
      const devices = new DeviceTable({ settings });
      devices.restore(store.loadDevices());
      const today = store.topTalkers({ dimension: 'host', from: 'today', to: 'today', limit: HOST_ROWS });
      const byHost = new Map(today.rows.map((r) => [r.key, r]));
      const rows: DeviceRow[] = devices.list().map((d) => {
        let bytesUp = 0, bytesDown = 0;
        for (const a of d.addresses) { bytesUp += byHost.get(a)?.bytesUp ?? 0; bytesDown += byHost.get(a)?.bytesDown ?? 0; }
        return { ...d, bytesUp, bytesDown };
      });
      if (format === 'json') {
        printJson({ devices: rows });
        return 0;
      }
      if (!rows.length) {
        process.stdout.write('no devices seen yet (flowlens run reads the neighbour table of the interfaces it counts on)\n');
        return 0;
      }
      const vendor = (d: Device) => d.vendor ?? (d.macKind === 'local' ? '(locally administered MAC)' : '');
      const name = (d: Device) => (d.name ? `${d.name}${d.nameSource === 'settings' ? '' : ` (${d.nameSource})`}` : '');
      process.stdout.write(`${table(['name', 'MAC', 'vendor', 'addresses', 'up today', 'down today', 'last seen'],
        rows.map((d) => [name(d), d.mac, vendor(d), d.addresses.join(' '), formatBytes(d.bytesUp), formatBytes(d.bytesDown), localTime(d.lastSeen)]), [4, 5])}\n`);
      return 0;
    });
  },
};
