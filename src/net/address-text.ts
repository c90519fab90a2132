/**
 * IP address text from raw key bytes, cached by those bytes: the same few
 * thousand addresses recur every interval, and formatting is the slow part.
 * IPv4 is cached by its 32-bit value: no key string is made per lookup, and
 * the text returned is the same string every time (its hash computed once for
 * every Map keyed by it downstream).
 */
const cache = new Map<string, string>();
const cacheV4 = new Map<number, string>();
// a gateway with 100k sessions sees as many addresses each interval: a smaller cache would thrash
const CACHE_LIMIT = 1 << 18;

function formatV6(b: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + 2 * i));
  // RFC 5952: compress the longest run (>= 2) of zero groups, leftmost on ties
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Formats 4 (IPv4) or 16 (IPv6) bytes at `at`. */
export function formatAddress(b: Buffer, at: number, version: 4 | 6): string {
  if (version === 4) return formatV4(((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0);
  const raw = b.toString('latin1', at, at + 16);
  let text = cache.get(raw);
  if (text === undefined) {
    text = formatV6(b, at);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(raw, text);
  }
  return text;
}

/** Formats an IPv4 address given as its 32-bit value (network byte order read as a number). */
export function formatV4(word: number): string {
  // keyed by the signed value: a small integer to V8 (no boxed number per lookup), one key per address all the same
  const key = word | 0;
  let text = cacheV4.get(key);
  if (text === undefined) {
    // join, not a template: V8 makes a text of 13 characters or more from `+` a tree of parts
    // (four objects, ~100 bytes); join makes one flat string, a third of it, for every session
    text = [word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff].join('.');
    if (cacheV4.size >= CACHE_LIMIT) cacheV4.clear();
    cacheV4.set(key, text);
  }
  return text;
}
