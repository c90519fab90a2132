/** The device table's rows (src/enrich/devices.ts) in the history database: one per MAC, replaced when it changes. */
import type { StoredDevice } from '../enrich/devices.js';
import type { Db } from './schema.js';

interface Row {
  mac: string;
  learned_name: string | null;
  learned_from: string | null;
  addresses: string;
  iface: string | null;
  first_seen: number;
  last_seen: number;
}

export function saveDevices(db: Db, rows: readonly StoredDevice[]): void {
  const put = db.prepare(`INSERT OR REPLACE INTO device (mac, learned_name, learned_from, addresses, iface, first_seen, last_seen)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (const r of rows) put.run(r.mac, r.learnedName ?? null, r.learnedFrom ?? null, JSON.stringify(r.addresses), r.iface ?? null, r.firstSeen, r.lastSeen);
  })();
}

export function loadDevices(db: Db): StoredDevice[] {
  return (db.prepare(`SELECT * FROM device ORDER BY last_seen DESC`).all() as Row[]).map((r) => {
    const d: StoredDevice = { mac: r.mac, addresses: JSON.parse(r.addresses) as Record<string, number>, firstSeen: r.first_seen, lastSeen: r.last_seen };
    if (r.learned_name !== null) { d.learnedName = r.learned_name; d.learnedFrom = r.learned_from === 'mdns' || r.learned_from === 'llmnr' ? r.learned_from : 'dhcp'; }
    if (r.iface !== null) d.iface = r.iface;
    return d;
  });
}
