/**
 * An alert's transitions as InfluxDB points, for Grafana annotations: one
 * point per firing and per resolved, at the time it happened.
 *
 *   flowlens_alert,host=gw,kind=port-scan,severity=warning,rule=port-scan,state=firing
 *     id=17i,value=1000,threshold=100,summary="port scan of …",subject="{…}",start=…i  <time>
 *
 * (`state` is a tag so a Grafana annotation query can take the firing ones
 * as region starts and the resolved ones as ends, by `id`.)
 */
import { escape } from '@influxdata/influxdb-client';
import { toTimestamp } from '../sinks/influx/schema.js';
import { tagSafe } from '../sinks/influx/tags.js';
import type { InfluxPrecision } from '../sinks/influx/config.js';
import type { Transition } from './engine.js';

export function alertLine(t: Transition, host: string, precision: InfluxPrecision): string | undefined {
  if (t.event !== 'firing' && t.event !== 'resolved') return undefined;
  const a = t.alert;
  const tags = [['host', host], ['kind', a.kind], ['severity', a.severity], ['rule', a.rule], ['state', t.event]]
    .map(([k, v]) => `,${k}=${escape.tag(tagSafe(v!))}`).join('');
  const at = t.event === 'firing' ? a.firedAt ?? a.start : a.end ?? a.start;
  const fields = [
    `id=${a.id}i`, `value=${a.value}`, `threshold=${a.threshold}`, `start=${Math.floor(a.start)}i`,
    `summary=${escape.quoted(a.summary)}`, `subject=${escape.quoted(JSON.stringify(a.subject))}`,
  ].join(',');
  return `flowlens_alert${tags} ${fields} ${toTimestamp(at, precision)}`;
}
