/**
 * The realtime answer (per-second bytes per interface × direction × scope) as
 * one record per second with each interface's up and down bytes: what the live
 * series take.
 */

export interface RealtimeAnswer {
  /** Start (epoch ms) of each second, oldest first. */
  times: number[];
  series: { iface: string; direction: 'up' | 'down'; scope: string; bytesPerSecond: number[] }[];
}

export interface SecondBytes {
  start: number;
  end: number;
  perIface: Map<string, { up: number; down: number }>;
}

export function realtimeSeconds(r: RealtimeAnswer): SecondBytes[] {
  return r.times.map((start, i) => {
    const perIface = new Map<string, { up: number; down: number }>();
    for (const s of r.series) {
      const b = perIface.get(s.iface) ?? { up: 0, down: 0 };
      b[s.direction] += s.bytesPerSecond[i] ?? 0;
      perIface.set(s.iface, b);
    }
    return { start, end: start + 1000, perIface };
  });
}
