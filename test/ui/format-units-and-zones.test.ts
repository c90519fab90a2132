// The dashboard's units and clock: decimal bytes, bit/s rates, durations,
// shares, endpoints, and dates in the flowlens host's time zone.
import t from 'tap';
import {
  formatBytes, formatBytesShort, formatCount, formatDuration, formatEndpoint, formatRate, formatRateShort, formatShare,
} from '../../ui/src/lib/format.js';

t.test('bytes: decimal units, 3 significant digits, B without decimals', async (t) => {
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(999), '999 B');
  t.equal(formatBytes(1000), '1.00 KB');
  t.equal(formatBytes(1234), '1.23 KB');
  t.equal(formatBytes(12_345), '12.3 KB');
  t.equal(formatBytes(123_456), '123 KB');
  t.equal(formatBytes(999_600), '1.00 MB', 'rounds up into the next unit instead of "1000 KB"');
  t.equal(formatBytes(99_990_000), '100 MB', 'three digits after rounding, not "100.0 MB"');
  t.equal(formatBytes(9_999_000), '10.0 MB');
  t.equal(formatBytes(1_500_000_000), '1.50 GB');
  t.equal(formatBytes(2.5e12), '2.50 TB');
  t.equal(formatBytes(Number.NaN), '–');
});

t.test('rates: bytes per second shown as bits per second', async (t) => {
  t.equal(formatRate(0), '0 bit/s');
  t.equal(formatRate(100), '800 bit/s');
  t.equal(formatRate(125_000), '1.00 Mbit/s');
  t.equal(formatRate(1_250_000_000), '10.0 Gbit/s');
  t.equal(formatRateShort(125_000), '1 Mbit/s');
  t.equal(formatRateShort(187_500), '1.5 Mbit/s');
  t.equal(formatBytesShort(0), '0');
  t.equal(formatBytesShort(500_000), '500 KB');
  t.equal(formatBytesShort(1_500_000_000), '1.5 GB');
});

t.test('durations, counts and shares', async (t) => {
  t.equal(formatDuration(850), '850 ms');
  t.equal(formatDuration(42_000), '42 s');
  t.equal(formatDuration(200_000), '3 min 20 s');
  t.equal(formatDuration(180_000), '3 min');
  t.equal(formatDuration(7_500_000), '2 h 5 min');
  t.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), '3 d 4 h');
  t.equal(formatDuration(-1), '–');
  t.equal(formatCount(1234567.4), '1,234,567');
  t.equal(formatShare(42, 100), '42%');
  t.equal(formatShare(34, 1000), '3.4%');
  t.equal(formatShare(1, 10_000), '<0.1%');
  t.equal(formatShare(0, 100), '0%');
  t.equal(formatShare(5, 0), '0%');
});

t.test('endpoints: brackets around IPv6, no port for ICMP', async (t) => {
  t.equal(formatEndpoint('10.0.0.1', 443, 'tcp'), '10.0.0.1:443');
  t.equal(formatEndpoint('fd00::2', 53, 'udp'), '[fd00::2]:53');
  t.equal(formatEndpoint('10.0.0.1', 8, 'icmp'), '10.0.0.1');
});

