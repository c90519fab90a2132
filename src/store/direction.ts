/**
 * Talkers restricted to one direction: each key keeps only that direction's
 * bytes and packets (the other is zeroed), and keys with no bytes that way are
 * dropped, so cutTop ranks by that direction and rows + other = total of it.
 */
import type { TalkerCounts } from '../flows/talkers.js';
import { FlowlensError } from '../errors.js';

export const TALKER_DIRECTIONS = ['up', 'down'] as const;
export type TalkerDirection = (typeof TALKER_DIRECTIONS)[number];

/** '' (empty: both directions) or up or down; anything else is a usage error naming the valid ones. */
export function talkerDirection(text: string | undefined): TalkerDirection | '' {
  if (!text) return '';
  if (!(TALKER_DIRECTIONS as readonly string[]).includes(text)) {
    throw new FlowlensError('FLOW_ERR_USAGE', `direction must be one of ${TALKER_DIRECTIONS.join(', ')}, not "${text}"`, 'leave it out for both directions');
  }
  return text as TalkerDirection;
}

export function* oneDirection(entries: Iterable<[string, TalkerCounts]>, direction: TalkerDirection | ''): Iterable<[string, TalkerCounts]> {
  if (!direction) { yield* entries; return; }
  for (const [k, a] of entries) {
    const bytes = direction === 'up' ? a.bytesUp : a.bytesDown;
    if (bytes === 0) continue;
    const c: TalkerCounts = direction === 'up'
      ? { ...a, bytesDown: 0, packetsDown: 0 }
      : { ...a, bytesUp: 0, packetsUp: 0 };
    yield [k, c];
  }
}
