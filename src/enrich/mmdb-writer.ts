/**
 * Writes small MaxMind DB (.mmdb) files for tests, following the MaxMind DB
 * File Format Specification 2.0: a binary search tree over the address bits
 * (24-, 28- or 32-bit records), 16 zero bytes, a data section in the MaxMind
 * type encoding, then "\xAB\xCD\xEFMaxMind.com" and the metadata map.
 *
 * No mmdb writer is published on npm, and real databases are too large and
 * change too often to assert exact answers against, so tests make their own;
 * the demo (src/demo) makes one for its made-up addresses.
 *
 * An IPv6 tree (ipVersion 6, as GeoLite2) holds IPv4 networks at ::a.b.c.d/96+n,
 * where readers look for them; an IPv4 tree holds IPv4 networks only.
 * Networks are inserted in order: a later network overwrites what an earlier
 * one said about the addresses it covers, so a specific network listed after
 * a broader one carves a hole in it.
 */
import net from 'node:net';
import { writeFileSync } from 'node:fs';

/** A value with an explicit MaxMind type, where the JS type alone would be ambiguous (52.0 as a double). */
export class MmdbTyped {
  constructor(
    readonly type: 'double' | 'float' | 'uint16' | 'uint32' | 'uint64' | 'uint128' | 'int32' | 'bytes',
    readonly value: number | bigint | Uint8Array,
  ) {}
}

/**
 * A record value. Plain numbers become uint32 when they are integers in
 * [0, 2^32), int32 when negative integers, else doubles; bigints become uint64;
 * objects become maps; arrays become arrays.
 */
export type MmdbValue = string | number | bigint | boolean | MmdbTyped | MmdbValue[] | { [key: string]: MmdbValue };

export const double = (v: number): MmdbTyped => new MmdbTyped('double', v);
export const float = (v: number): MmdbTyped => new MmdbTyped('float', v);
export const uint16 = (v: number): MmdbTyped => new MmdbTyped('uint16', v);
export const uint32 = (v: number): MmdbTyped => new MmdbTyped('uint32', v);

export interface MmdbNetwork {
  /** "81.2.69.0/24", "2001:db8::/32" or a bare address. */
  cidr: string;
  record: MmdbValue;
}

export interface MmdbOptions {
  /** 6 (default): one tree for both families, IPv4 under ::/96. 4: IPv4 only. */
  ipVersion?: 4 | 6;
  recordSize?: 24 | 28 | 32;
  databaseType?: string;
  languages?: string[];
  description?: Record<string, string>;
  /** Seconds since the epoch (default: 2026-01-01T00:00:00Z). */
  buildEpoch?: number;
}

// ---- data section encoding -------------------------------------------------

const TYPE = {
  pointer: 1, utf8: 2, double: 3, bytes: 4, uint16: 5, uint32: 6, map: 7,
  int32: 8, uint64: 9, uint128: 10, array: 11, boolean: 14, float: 15,
} as const;

/** The control byte(s) of a field: type in the top 3 bits (or an extended-type byte), then the size. */
function control(type: number, size: number): Buffer {
  const head: number[] = [];
  const ext: number[] = [];
  let first = type <= 7 ? type << 5 : 0;
  if (type > 7) ext.push(type - 7);
  let sizeBytes: number[] = [];
  if (size < 29) first |= size;
  else if (size < 29 + 256) { first |= 29; sizeBytes = [size - 29]; }
  else if (size < 285 + 65536) { first |= 30; const s = size - 285; sizeBytes = [s >> 8, s & 0xff]; }
  else if (size < 65821 + (1 << 24)) { first |= 31; const s = size - 65821; sizeBytes = [(s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff]; }
  else throw new Error(`mmdb-writer: field of ${size} bytes/entries is too large`);
  head.push(first, ...ext, ...sizeBytes);
  return Buffer.from(head);
}

/** Big-endian unsigned integer in the fewest bytes (zero takes none). */
function uintBytes(v: bigint, maxBytes: number): Buffer {
  if (v < 0n || v >= 1n << BigInt(maxBytes * 8)) throw new Error(`mmdb-writer: ${v} does not fit in ${maxBytes} bytes`);
  const out: number[] = [];
  for (let x = v; x > 0n; x >>= 8n) out.unshift(Number(x & 0xffn));
  return Buffer.from(out);
}

function encodeTyped(t: MmdbTyped): Buffer {
  switch (t.type) {
    case 'double': { const b = Buffer.alloc(8); b.writeDoubleBE(Number(t.value)); return Buffer.concat([control(TYPE.double, 8), b]); }
    case 'float': { const b = Buffer.alloc(4); b.writeFloatBE(Number(t.value)); return Buffer.concat([control(TYPE.float, 4), b]); }
    case 'int32': {
      const b = Buffer.alloc(4);
      b.writeInt32BE(Number(t.value));
      return Buffer.concat([control(TYPE.int32, 4), b]);
    }
    case 'bytes': { const b = Buffer.from(t.value as Uint8Array); return Buffer.concat([control(TYPE.bytes, b.length), b]); }
    default: {
      const widths = { uint16: 2, uint32: 4, uint64: 8, uint128: 16 } as const;
      const b = uintBytes(BigInt(t.value as number | bigint), widths[t.type]);
      return Buffer.concat([control(TYPE[t.type], b.length), b]);
    }
  }
}

export function encodeValue(v: MmdbValue): Buffer {
  if (v instanceof MmdbTyped) return encodeTyped(v);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(TYPE.utf8, b.length), b]);
  }
  if (typeof v === 'boolean') return control(TYPE.boolean, v ? 1 : 0);
  if (typeof v === 'bigint') return encodeTyped(new MmdbTyped('uint64', v));
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) return encodeTyped(new MmdbTyped('uint32', v));
    if (Number.isInteger(v) && v < 0 && v >= -(2 ** 31)) return encodeTyped(new MmdbTyped('int32', v));
    return encodeTyped(new MmdbTyped('double', v));
  }
  if (Array.isArray(v)) return Buffer.concat([control(TYPE.array, v.length), ...v.map(encodeValue)]);
  const entries = Object.entries(v);
  return Buffer.concat([control(TYPE.map, entries.length), ...entries.flatMap(([k, x]) => [encodeValue(k), encodeValue(x)])]);
}

// ---- search tree --------------------------------------------------------------

/** A tree slot: nothing, a child node, or the index of a record in the data list. */
type Slot = { kind: 'empty' } | { kind: 'node'; node: TreeNode } | { kind: 'data'; index: number };
interface TreeNode { slots: [Slot, Slot] }

const EMPTY: Slot = { kind: 'empty' };

/** The network's address as bits (32 or 128) and its prefix length, in the tree's address space. */
function networkBits(cidr: string, ipVersion: 4 | 6): { bits: number[]; prefix: number } {
  const [addr = '', prefixText] = cidr.split('/');
  const family = net.isIP(addr);
  if (family === 0) throw new Error(`mmdb-writer: "${cidr}" is not an address or CIDR`);
  if (family === 6 && ipVersion === 4) throw new Error(`mmdb-writer: ${cidr} is IPv6 but the tree is ipVersion 4`);
  const bytes = family === 4 ? addr.split('.').map(Number) : ipv6Bytes(addr);
  const maxPrefix = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) throw new Error(`mmdb-writer: bad prefix in "${cidr}"`);
  const bits: number[] = [];
  for (const b of bytes) for (let i = 7; i >= 0; i--) bits.push((b >> i) & 1);
  // IPv4 in an IPv6 tree lives under ::/96, where readers start IPv4 lookups.
  if (family === 4 && ipVersion === 6) return { bits: [...new Array(96).fill(0), ...bits], prefix: prefix + 96 };
  return { bits, prefix };
}

function ipv6Bytes(addr: string): number[] {
  let text = addr;
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; });
}

function insert(root: TreeNode, bits: number[], prefix: number, index: number): void {
  if (prefix === 0) throw new Error('mmdb-writer: a /0 network cannot be stored (the root is a node)');
  let node = root;
  for (let depth = 0; depth < prefix - 1; depth++) {
    const bit = bits[depth];
    const slot = node.slots[bit];
    if (slot.kind === 'node') { node = slot.node; continue; }
    // Split an empty or data slot: both halves keep what the slot said, the path goes on.
    const child: TreeNode = { slots: [slot, slot] };
    node.slots[bit] = { kind: 'node', node: child };
    node = child;
  }
  node.slots[bits[prefix - 1]] = { kind: 'data', index };
}

/** Nodes numbered breadth-first from the root (0), as the format requires only that the root be 0. */
function numberNodes(root: TreeNode): TreeNode[] {
  const order: TreeNode[] = [root];
  for (let i = 0; i < order.length; i++) {
    for (const s of order[i].slots) if (s.kind === 'node') order.push(s.node);
  }
  return order;
}

function writeRecordPair(out: Buffer, offset: number, recordSize: 24 | 28 | 32, left: number, right: number): void {
  if (recordSize === 24) {
    out.writeUIntBE(left, offset, 3);
    out.writeUIntBE(right, offset + 3, 3);
  } else if (recordSize === 28) {
    out.writeUIntBE(left & 0xffffff, offset, 3);
    out[offset + 3] = ((left >>> 24) << 4) | (right >>> 24);
    out.writeUIntBE(right & 0xffffff, offset + 4, 3);
  } else {
    out.writeUInt32BE(left, offset);
    out.writeUInt32BE(right, offset + 4);
  }
}

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'ascii')]);

/** The bytes of a MaxMind DB holding the given networks. */
export function buildMmdb(networks: MmdbNetwork[], opts: MmdbOptions = {}): Buffer {
  const ipVersion = opts.ipVersion ?? 6;
  const recordSize = opts.recordSize ?? 24;

  // Data section: each distinct record once; identical records share an offset.
  const dataParts: Buffer[] = [];
  const offsets: number[] = [];
  const seen = new Map<string, number>();
  let dataSize = 0;
  const root: TreeNode = { slots: [EMPTY, EMPTY] };
  for (const n of networks) {
    const encoded = encodeValue(n.record);
    const key = encoded.toString('latin1');
    let index = seen.get(key);
    if (index === undefined) {
      index = offsets.length;
      seen.set(key, index);
      offsets.push(dataSize);
      dataParts.push(encoded);
      dataSize += encoded.length;
    }
    const { bits, prefix } = networkBits(n.cidr, ipVersion);
    insert(root, bits, prefix, index);
  }

  const nodes = numberNodes(root);
  const nodeCount = nodes.length;
  const numberOf = new Map(nodes.map((n, i) => [n, i]));
  const value = (s: Slot): number =>
    s.kind === 'empty' ? nodeCount : s.kind === 'node' ? numberOf.get(s.node)! : nodeCount + 16 + offsets[s.index];
  if (nodeCount + 16 + dataSize >= 2 ** recordSize) throw new Error(`mmdb-writer: too much data for ${recordSize}-bit records`);

  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  nodes.forEach((n, i) => writeRecordPair(tree, i * nodeBytes, recordSize, value(n.slots[0]), value(n.slots[1])));

  const metadata = encodeValue({
    binary_format_major_version: uint16(2),
    binary_format_minor_version: uint16(0),
    build_epoch: BigInt(opts.buildEpoch ?? Date.UTC(2026, 0, 1) / 1000),
    database_type: opts.databaseType ?? 'flowlens-test',
    description: opts.description ?? { en: 'flowlens test database' },
    ip_version: uint16(ipVersion),
    languages: opts.languages ?? ['en'],
    node_count: uint32(nodeCount),
    record_size: uint16(recordSize),
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...dataParts, METADATA_MARKER, metadata]);
}

/** Writes buildMmdb(networks, opts) to path. */
export function writeMmdb(path: string, networks: MmdbNetwork[], opts: MmdbOptions = {}): void {
  writeFileSync(path, buildMmdb(networks, opts));
}
