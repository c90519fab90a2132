/**
 * Who made a network card: the IEEE registry of MAC address blocks, read from
 * Debian's ieee-data package (/usr/share/ieee-data: oui.csv for MA-L, 24-bit
 * prefixes; mam.csv for MA-M, 28 bits; oui36.csv and iab.csv for MA-S and
 * IAB, 36 bits). Nothing is downloaded at run time: a host without the package
 * shows MACs without vendors, and status says why.
 *
 *   const oui = OuiRegistry.load();          // reads the files once (~30 ms, ~50k blocks)
 *   oui.vendorOf('00:1b:63:84:45:e6');       // 'Apple, Inc.'
 *   macKind('da:a1:19:00:00:01');            // 'local': randomized / locally administered, no vendor
 *
 * A locally administered MAC (the 0x02 bit of the first byte: phones' and
 * laptops' per-network random addresses, VMs, containers) is in no block: it
 * says so instead of a vendor.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const IEEE_DATA_DIR = '/usr/share/ieee-data';
/** The registry files, longest prefixes last (a longer block inside an MA-L wins). */
const FILES = ['oui.csv', 'mam.csv', 'oui36.csv', 'iab.csv'];

export type MacKind = 'universal' | 'local' | 'multicast';

/** Whether a MAC is a maker's (universal), locally administered (randomized, VM) or a group address. */
export function macKind(mac: string): MacKind {
  const first = parseInt(mac.slice(0, 2), 16);
  if (first & 0x01) return 'multicast';
  return first & 0x02 ? 'local' : 'universal';
}

/** "00:1B:63:84:45:E6", "001b.6384.45e6" or "00-1b-63-84-45-e6" → "00:1b:63:84:45:e6"; undefined if it is not a 6-byte MAC. */
export function normalizeMac(text: string): string | undefined {
  const hex = text.trim().toLowerCase().replace(/[:.-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** The fields of one CSV line (RFC 4180 quoting: "a, b" and "" inside quotes). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) { v += line.slice(i); i = line.length; break; }
        v += line.slice(i, q);
        if (line[q + 1] === '"') { v += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      out.push(v);
      i = line.indexOf(',', i) < 0 ? line.length + 1 : line.indexOf(',', i) + 1;
    } else {
      const c = line.indexOf(',', i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

export class OuiRegistry {
  /** Prefix in lowercase hex (6, 7 or 9 digits) → organisation. */
  private readonly blocks = new Map<string, string>();
  private readonly orgs = new Map<string, string>();
  /** Files read, and why one could not be (for status). */
  readonly sources: string[] = [];
  readonly problems: string[] = [];

  /** Reads the registry files in `dir` (default Debian's ieee-data); a missing file is a problem, not an error. */
  static load(dir = IEEE_DATA_DIR): OuiRegistry {
    const r = new OuiRegistry();
    for (const f of FILES) {
      const file = path.join(dir, f);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        r.problems.push(`${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (install Debian's ieee-data package for vendor names)`);
        continue;
      }
      r.addCsv(text);
      r.sources.push(file);
    }
    return r;
  }

  /**
   * Adds the rows of one registry CSV ("Registry,Assignment,Organization Name,Organization Address");
   * returns how many blocks it held. Rows that are not a hex assignment are skipped.
   */
  addCsv(text: string): number {
    let n = 0;
    for (const line of text.split(/\r?\n/)) {
      if (!line || line.startsWith('Registry,')) continue;
      const [, assignment, org] = csvFields(line);
      if (!assignment || !org || !/^[0-9A-Fa-f]{6,9}$/.test(assignment)) continue;
      this.blocks.set(assignment.toLowerCase(), this.intern(org.trim()));
      n++;
    }
    return n;
  }

  /**
   * One copy of each organisation name, not a slice of the file's text: a slice
   * would keep the whole 3 MB file alive, and big makers hold hundreds of blocks.
   */
  private intern(org: string): string {
    let kept = this.orgs.get(org);
    if (kept === undefined) {
      kept = Buffer.from(org, 'utf8').toString('utf8');
      this.orgs.set(kept, kept);
    }
    return kept;
  }

  get size(): number {
    return this.blocks.size;
  }

  /** The organisation a MAC's block is assigned to; undefined for an unknown block or a locally administered MAC. */
  vendorOf(mac: string): string | undefined {
    const hex = mac.toLowerCase().replace(/[:.-]/g, '');
    if (hex.length !== 12 || macKind(mac) !== 'universal') return undefined;
    // longest block first: MA-S/IAB (36 bits) and MA-M (28 bits) are carved out of MA-L blocks
    return this.blocks.get(hex.slice(0, 9)) ?? this.blocks.get(hex.slice(0, 7)) ?? this.blocks.get(hex.slice(0, 6));
  }
}
