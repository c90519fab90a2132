/**
 * IP address text from raw key bytes, cached by those bytes: the same few
 * thousand addresses recur every interval, and formatting is the slow part.
 */
const cache = new Map<string, string>();
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
  const len = version === 4 ? 4 : 16;
  const raw = b.toString('latin1', at, at + len);
  let text = cache.get(raw);
  if (text === undefined) {
    text = version === 4 ? `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}` : formatV6(b, at);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(raw, text);
  }
  return text;
}
