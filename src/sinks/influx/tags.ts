/**
 * Tag values for line protocol. Its own module because both the period sums
 * (period.ts, which keys talkers by their tag value) and the points
 * (schema.ts) need it, and schema.ts already imports period.ts.
 */

/**
 * How the talkers' OTHER_KEY is written as a tag value (a tag cannot be empty): the sum of
 * every key beyond the series budget; a real key "other" is folded into it too.
 */
export const OTHER_TAG = 'other';

/**
 * A tag value line protocol can carry: a backslash at the end would escape the
 * separator after it (and make the server refuse the whole batch), so trailing
 * backslashes become U+2216 (∖). Names from the network (DNS, SNI) can end so.
 */
export function tagSafe(value: string): string {
  return value.endsWith('\\') ? value.replace(/\\+$/, (m) => '\u2216'.repeat(m.length)) : value;
}
