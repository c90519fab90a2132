/**
 * What an alert is, for every part of src/alerts and for its readers (CLI,
 * JSON API, metrics): plain JSON-ready data.
 */
import type { Severity } from './config.js';

export type { Severity } from './config.js';
export type AlertState = 'pending' | 'firing' | 'resolved';
export const ALERT_KINDS = ['threshold', 'quota', 'port-scan', 'host-sweep', 'syn-flood', 'udp-flood', 'icmp-flood', 'amplification', 'anomaly', 'new-country', 'new-asn', 'new-domain'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** One session or talker behind an alert's value, at firing time. */
export interface Contributor {
  /** The sending end (the attacker, for a detector), or the talker's key. */
  source: string;
  /** The receiving end (the victim), when there is one. */
  target?: string;
  /** "tcp/443" */
  service?: string;
  bytes: number;
  packets: number;
}

export interface Alert {
  id: number;
  /** (rule, subject): one alert at a time per fingerprint. */
  fingerprint: string;
  /** The rule's name, or the detector's kind. */
  rule: string;
  kind: AlertKind;
  severity: Severity;
  /** What it is about: {host: "10.0.0.5"}, {attacker: ..., victim: ...}, {} for the total. */
  subject: Record<string, string>;
  /** One line a person reads: "port scan of 10.0.0.2 by 10.0.0.1: 997 ports in 60 s". */
  summary: string;
  /** The highest value seen while pending/firing (a below-rule: the lowest). */
  value: number;
  threshold: number;
  /** A quota's limit, or the normal level the value is compared with. */
  baseline?: number;
  unit: string;
  /** Wall-clock ms: when the condition began; when it resolved. */
  start: number;
  firedAt?: number;
  end?: number;
  state: AlertState;
  contributors: Contributor[];
}

/** One rule's or detector's verdict on one subject in one interval. */
export interface Observation {
  fingerprint: string;
  rule: string;
  kind: AlertKind;
  severity: Severity;
  /**
   * Subject and summary are read only when the engine needs them (a new alert,
   * a worse value, a firing), in the same turn as the evaluation: an observer
   * may compute them then (getters), as the flood detectors do with their sources.
   */
  subject: Record<string, string>;
  summary: string;
  value: number;
  threshold: number;
  baseline?: number;
  unit: string;
  /** The condition holds now. */
  active: boolean;
  /** The value is back on the good side of the hysteresis band (an alert that fired may resolve). */
  clear: boolean;
  /** How long the condition must hold before the alert fires. */
  forMs: number;
  /** Computed only when the alert fires. */
  contributors: () => Contributor[];
}
