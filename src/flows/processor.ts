/**
 * Turns each interval's flows (one direction each) into sessions, per
 * interface/up-down/scope traffic, and talkers per dimension: the IntervalStats
 * every consumer reads (src/flows/types.ts).
 *
 * Per flow the work is a classification (cached per address), one session
 * lookup and a few additions; per-dimension talker rows are built once per
 * touched session, from its interval deltas, so a session with traffic both
 * ways costs one talker update per dimension, not two.
 */
import type { FlowBatch, IfaceTotals } from '../collector/index.js';
import { FLOW_ID_NONE } from '../collector/decode.js';
import { sidesOf, specialOf, type AddressClassifier } from '../net/classify.js';
import { IPPROTO_TCP, TCP_SYN, icmpIsRequest, icmpKind, isIcmp, protocolName } from '../net/protocols.js';
import { TrafficFilter, type FilterConfig } from './filters.js';
import { isZero, newAccumulator, rankRows, resetCounts, rowOf, subtractCounts, type TalkerAccumulator } from './talkers.js';
import type { LiveSessions } from './live.js';
import { NO_LABELS, Session, SessionTable, guessInitiator, sessionHashV4, sessionId, type FlowRoute as Route, type RemoteLabels, type SessionConfig } from './sessions.js';
import { TALKER_DIMENSIONS, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerRow, type TrafficRow, type TrafficScope, type UpDown } from './types.js';

export interface FlowsConfig {
  sessions: SessionConfig;
  filters: FilterConfig;
}

/** Names and places of remote ends (src/enrich), looked up once per session. */
export interface Enrichment {
  /** Country, city, ASN of a public address. */
  place(remote: string): Omit<RemoteLabels, 'domain'>;
  /** The name of the remote end: this connection's TLS SNI, else a DNS answer for the address. */
  /** `firstSeen`: when the session's first packet was seen — its name is the one valid then. */
  domain(local: string, localPort: number, remote: string, remotePort: number, protocol: number, firstSeen: number): string | undefined;
  /** The local end's device: key its MAC (undefined: no MAC known yet, the address is the key), label its name now. */
  device?(local: string): { mac?: string; label?: string };
}

/** What the processor needs of a collector interval. */
export interface IntervalInput {
  start: number;
  end: number;
  flows: FlowBatch;
  totals: IfaceTotals[];
}

export interface FlowsStatus {
  sessions: number;
  maxSessions: number;
  /** Since start: conversations not tracked because the session table was full. */
  untrackedSessions: number;
  endedSessions: number;
  /** Since start: traffic the filters removed. */
  filteredPackets: number;
  filteredBytes: number;
}

/** How long a session keeps asking for a name it did not find (DNS answers and SNI come early). */
const NAME_RETRY_MS = 30_000;

/**
 * Whether a session still unnamed `elapsed` ms after its first lookup asks
 * again in this interval (of `intervalMs`): in the next interval, then each time
 * its wait passes 2, 4, 8, 16 s. A name learned late is found within about
 * half the wait so far, in five lookups instead of one every interval: on a
 * gateway most sessions never get a name, and asking for 100k of them every
 * interval was a fifth of the flows stage.
 */
export function nameRetryDue(elapsed: number, intervalMs: number): boolean {
  if (elapsed >= NAME_RETRY_MS) return false;
  if (elapsed <= intervalMs) return true;
  return Math.floor(Math.log2(elapsed / 1000)) > Math.floor(Math.log2((elapsed - intervalMs) / 1000));
}

const DIM_COUNT = TALKER_DIMENSIONS.length;
/** First talker slot of the LAN block (see FlowProcessor.accumulators). */
const LAN_BASE = DIM_COUNT;
const SLOT_COUNT = 2 * DIM_COUNT;
const SCOPES: TrafficScope[] = ['internet', 'lan', 'unknown'];

/** Adds to an interval's traffic per interface: [up, down] × [internet, lan, unknown] × [bytes, packets]. */
function addTraffic(traffic: Map<string, Float64Array>, iface: string, direction: UpDown, scope: TrafficScope, bytes: number, packets: number): void {
  let acc = traffic.get(iface);
  if (!acc) traffic.set(iface, (acc = new Float64Array(12)));
  const at = (direction === 'up' ? 0 : 6) + (scope === 'internet' ? 0 : scope === 'lan' ? 2 : 4);
  acc[at] += bytes;
  acc[at + 1] += packets;
}

function trafficRows(acc: Map<string, Float64Array>): TrafficRow[] {
  const rows: TrafficRow[] = [];
  for (const [iface, a] of acc) {
    for (let d = 0; d < 2; d++) {
      for (let sc = 0; sc < 3; sc++) {
        const at = d * 6 + sc * 2;
        if (a[at + 1]) rows.push({ iface, direction: d === 0 ? 'up' : 'down', scope: SCOPES[sc]!, bytes: a[at]!, packets: a[at + 1]! });
      }
    }
  }
  return rows;
}



/** One row list per talker slot (all traffic's dimensions, then LAN's). */
function emptyTalkerRows(): TalkerAccumulator[][] {
  return Array.from({ length: SLOT_COUNT }, () => []);
}

/** Adds a session's counts of interval `n` to one of its talker keys (the key joins the interval's rows at its first). */
function accumulate(a: TalkerAccumulator, rows: TalkerAccumulator[], n: number, bytesUp: number, bytesDown: number, packetsUp: number, packetsDown: number, isNew: boolean): void {
  if (a.interval !== n) {
    a.interval = n;
    resetCounts(a);
    rows.push(a);
  }
  a.bytesUp += bytesUp;
  a.bytesDown += bytesDown;
  a.packetsUp += packetsUp;
  a.packetsDown += packetsDown;
  a.sessions++;
  if (isNew) a.newSessions++;
}

/**
 * Ranks one slot's talker rows into `ranked` (copies: consumers keep them, the
 * accumulators start again next interval). A LAN slot also makes its
 * dimension's internet rows (all traffic's without LAN's): slots are ranked in
 * order, all traffic's first. An interval of LAN traffic only shares all
 * traffic's rows and ranks no LAN slot.
 */
function rankSlot(slot: number, rows: TalkerAccumulator[][], ranked: TalkerRow[][], internet: TalkerRow[][], onlyLan: boolean): void {
  if (slot < LAN_BASE) ranked[slot] = rankRows(rows[slot]!.map(rowOf));
  else if (!onlyLan) {
    ranked[slot] = rankRows(rows[slot]!.map(rowOf));
    internet[slot - LAN_BASE] = withoutRows(ranked[slot - LAN_BASE]!, ranked[slot]);
  }
}

/** The ranked slots as the interval's talkers, all traffic's and per scope. */
function talkersOf(ranked: TalkerRow[][], internetRanked: TalkerRow[][], onlyLan: boolean): Pick<IntervalStats, 'talkers'> & { scopedTalkers: NonNullable<IntervalStats['scopedTalkers']> } {
  const all = {} as Record<TalkerDimension, TalkerRow[]>;
  const lan = {} as Record<TalkerDimension, TalkerRow[]>;
  const internet = {} as Record<TalkerDimension, TalkerRow[]>;
  TALKER_DIMENSIONS.forEach((dim, d) => {
    all[dim] = ranked[d] ?? [];
    lan[dim] = onlyLan ? all[dim] : ranked[LAN_BASE + d] ?? [];
    internet[dim] = onlyLan ? [] : internetRanked[d] ?? [];
  });
  return { talkers: all, scopedTalkers: { internet, lan } };
}

/**
 * The numbers of one talker slot's keys (TalkerRow.id): the smallest unused
 * first, so they stay dense. A number given back is used again only from the
 * next interval on (release(), then reuse()): within an interval a number
 * names one key.
 */
class KeyIds {
  private next = 0;
  private readonly free: number[] = [];
  private readonly released: number[] = [];

  take(): number {
    return this.free.pop() ?? this.next++;
  }

  release(id: number): void {
    this.released.push(id);
  }

  /** At an interval's end: the numbers released in it can be taken again. */
  reuse(): void {
    for (const id of this.released) this.free.push(id);
    this.released.length = 0;
  }
}

/** The interval being taken in steps (FlowProcessor.begin). */
interface IntervalWork {
  iv: IntervalInput;
  /** Its number (FlowProcessor.interval). */
  n: number;
  /** The index of the next flow to take. */
  next: number;
  ifaceNames: Map<number, string>;
  /** Per interface: up/down × scope × bytes/packets (addTraffic). */
  traffic: Map<string, Float64Array>;
  /** The sessions with traffic in it, in the order first seen; Session.slot is the index. */
  touched: Session[];
  /** Conversations over both caps: one conversation within the interval, forgotten at its end. */
  unkept: SessionTable | undefined;
  /** Once every flow is taken: the talker rows per slot (accumulators with traffic in it), summed session by session. */
  talkerRows: TalkerAccumulator[][] | undefined;
  /** Every touched session is LAN: the LAN talkers are all traffic's (set with talkerRows). */
  onlyLan: boolean;
  /** The index in `touched` of the next session to add to the talker rows. */
  nextSession: number;
  /** Once every session is added: each slot's rows ranked (rankSlot), each dimension's internet rows, and the next slot to rank. */
  ranked: TalkerRow[][];
  internet: TalkerRow[][];
  nextSlot: number;
}

/**
 * The counts of the interval being taken, per touched session (by
 * Session.slot), kept aside until the interval completes: typed arrays reused
 * from interval to interval, grown as needed.
 */
class IntervalSums {
  bytesUp = new Float64Array(0);
  bytesDown = new Float64Array(0);
  packetsUp = new Float64Array(0);
  packetsDown = new Float64Array(0);
  lastSeen = new Float64Array(0);
  flagsUp = new Uint16Array(0);
  flagsDown = new Uint16Array(0);

  /** Room for `slots` sessions, the sums so far kept. */
  ensure(slots: number): this {
    if (slots <= this.bytesUp.length) return this;
    const size = Math.max(slots, 2 * this.bytesUp.length, 1024);
    const grow = <T extends Float64Array | Uint16Array>(a: T, make: (n: number) => T): T => { const b = make(size); b.set(a); return b; };
    this.bytesUp = grow(this.bytesUp, (k) => new Float64Array(k));
    this.bytesDown = grow(this.bytesDown, (k) => new Float64Array(k));
    this.packetsUp = grow(this.packetsUp, (k) => new Float64Array(k));
    this.packetsDown = grow(this.packetsDown, (k) => new Float64Array(k));
    this.lastSeen = grow(this.lastSeen, (k) => new Float64Array(k));
    this.flagsUp = grow(this.flagsUp, (k) => new Uint16Array(k));
    this.flagsDown = grow(this.flagsDown, (k) => new Uint16Array(k));
    return this;
  }

  /** Starts a session's sums at slot `t` (its last packet so far: `lastSeen`). */
  open(t: number, lastSeen: number): void {
    this.bytesUp[t] = this.bytesDown[t] = this.packetsUp[t] = this.packetsDown[t] = 0;
    this.flagsUp[t] = this.flagsDown[t] = 0;
    this.lastSeen[t] = lastSeen;
  }
}

export class FlowProcessor {
  private readonly sessions = new SessionTable();
  /**
   * Conversations beyond maxSessions: counted (traffic, talkers) but not reported
   * as sessions. Kept (at most maxSessions of them, swept like sessions) so both
   * directions and every interval of one such conversation are one conversation:
   * counted untracked once, with one service key.
   */
  private readonly untracked = new SessionTable();
  /**
   * Per remote address (Session.remoteKey: an IPv4 one by its value), the
   * tracked sessions with it: activeRemotes without a set of every session's
   * remote per interval.
   */
  private readonly remoteRefs = new Map<number | string, number>();
  /** A small number per interface name, for sessionHashV4 (the id has the name, so the key does too). */
  private readonly ifaceCodes = new Map<string, number>();
  /** Known flows by the collector's stable flow id (FlowBatch.flowId): an array index per flow. */
  private readonly byId: (Route | undefined)[] = [];
  /** Known flows without an id (ids off or refused), by raw kernel key. */
  private readonly routes = new Map<string, Route>();
  /** Per dimension, talker key → its counts, shared by the sessions with that key: no key lookup per session and interval. */
  /**
   * Per talker slot, key → accumulator. Slots 0..DIM_COUNT-1 are all traffic's
   * dimensions, LAN_BASE.. the same for LAN sessions only. Internet talkers are
   * all minus LAN, key by key, made at the interval's end: a session costs a
   * second set of sums only when it is LAN traffic, and an internet-only
   * gateway pays nothing for the split.
   */
  private readonly accumulators = Array.from({ length: SLOT_COUNT }, () => new Map<string, TalkerAccumulator>());
  /** Per talker slot, the numbers of its keys (TalkerRow.id). */
  private readonly keyIds = Array.from({ length: SLOT_COUNT }, () => new KeyIds());
  /**
   * Per talker slot, the accumulator bound last: a new session mostly shares
   * its service, protocol, country, ASN and domain keys with the one before,
   * and finds them without a Map lookup.
   */
  private readonly lastBound: (TalkerAccumulator | undefined)[] = new Array(SLOT_COUNT).fill(undefined);
  /** The tracked sessions with traffic in the latest interval (LiveSessions.moved). */
  private moved: Session[] = [];
  /** Flow ids no longer routed (their session ended, or the flow was not kept): for the collector to reuse. */
  private released: number[] = [];
  private readonly filter: TrafficFilter;
  private interval = 0;
  /** The latest interval completed: what the live view shows (an interval in steps is `interval`, not yet this). */
  private published = 0;
  /** The interval being taken in steps (begin() to finish()). */
  private work: IntervalWork | undefined;
  private readonly sums = new IntervalSums();
  /** Sessions begun so far (tracked or not): the last Session.seq given. */
  private sessionsBegun = 0;
  private counters = { untracked: 0, ended: 0, filteredPackets: 0, filteredBytes: 0 };
  /** Indexes (in the interval's FlowBatch) of the flows the filters removed from the latest interval. */
  private filteredFlows: Set<number> | undefined;

  constructor(
    private readonly config: FlowsConfig,
    private readonly classifier: AddressClassifier,
    private readonly enrichment?: Enrichment,
  ) {
    this.filter = new TrafficFilter(config.filters);
  }

  /** Intervals processed so far. */
  get intervals(): number {
    return this.interval;
  }

  /**
   * The active sessions, read-only, for the live query, the terminal view and
   * the history's snapshot: as of the latest completed interval, also while the
   * next is taken in steps (its new sessions are left out until it completes;
   * the counts of the others are not yet changed).
   */
  readonly live: LiveSessions = ((processor: FlowProcessor): LiveSessions => ({
    get size() { return processor.sessions.size - (processor.work ? processor.begunInWork : 0); },
    values: () => (processor.work ? processor.publishedValues() : processor.sessions.values()),
    forEach: (visit) => {
      if (!processor.work) return processor.sessions.forEach(visit);
      const n = processor.interval;
      processor.sessions.forEach((s) => { if (s.created !== n) visit(s); });
    },
    moved: () => processor.moved,
    get intervals() { return processor.published; },
    // a session's deltas are of the latest interval it had traffic in: only that interval's count
    latestBytesUp: (s) => ((s as Session).touched === processor.published ? (s as Session).dBytesUp : 0),
    latestBytesDown: (s) => ((s as Session).touched === processor.published ? (s as Session).dBytesDown : 0),
    latestPacketsUp: (s) => ((s as Session).touched === processor.published ? (s as Session).dPacketsUp : 0),
    latestPacketsDown: (s) => ((s as Session).touched === processor.published ? (s as Session).dPacketsDown : 0),
    isNew: (s) => (s as Session).created === processor.published,
  }))(this);

  /** Tracked sessions begun by the interval in steps (not in the live view until it completes). */
  private begunInWork = 0;

  /** The sessions of the live view while an interval is in steps: those begun before it. */
  private *publishedValues(): IterableIterator<Session> {
    const n = this.interval;
    for (const s of this.sessions.values()) if (s.created !== n) yield s;
  }

  /** Flow ids the processor no longer routes, since the last call: hand them to Collector.releaseFlowIds. */
  takeReleasedFlowIds(): Uint32Array {
    const out = Uint32Array.from(this.released);
    this.released = [];
    return out;
  }

  /** The flows of the latest interval the filters removed (their indexes in its FlowBatch): NDJSON leaves them out too. */
  get filteredInLatest(): ReadonlySet<number> | undefined {
    return this.filteredFlows;
  }

  /** The remote end's name for the filters' domain rules: the TLS server name of the connection, else DNS. */
  private remoteName(srcIsLocal: boolean, src: string, dst: string, sp: number, dp: number, protocol: number, firstSeen: number): string | undefined {
    return srcIsLocal
      ? this.enrichment?.domain(src, sp, dst, dp, protocol, firstSeen)
      : this.enrichment?.domain(dst, dp, src, sp, protocol, firstSeen);
  }

  /** One interval, whole: begin, every step, finish. */
  process(iv: IntervalInput): IntervalStats {
    this.begin(iv);
    return this.finish();
  }

  /**
   * Starts an interval taken in steps (step(), then finish()): between steps
   * the event loop turns, and the live view stays the previous interval's,
   * whole: this interval's counts are summed per touched session aside
   * (IntervalSums) and applied to the sessions at finish(), and the sessions it
   * begins are not in the view until then. The interval's flows must stay
   * readable until finish() (the collector's buffer: the monitor finishes
   * before the next drain).
   */
  begin(iv: IntervalInput): void {
    if (this.work) throw new Error('FlowProcessor.begin: the previous interval is not finished');
    const n = ++this.interval;
    this.filteredFlows = undefined;
    this.begunInWork = 0;
    this.work = {
      iv, n, next: 0,
      ifaceNames: new Map(iv.totals.map((t) => [t.ifindex, t.iface])),
      traffic: new Map(),
      touched: [],
      unkept: undefined,
      talkerRows: undefined,
      onlyLan: false,
      nextSession: 0,
      ranked: [],
      internet: [],
      nextSlot: 0,
    };
  }

  /** Whether an interval is begun and not yet finished. */
  get inProgress(): boolean {
    return this.work !== undefined;
  }

  /**
   * One step of the interval: takes up to `maxItems` more of its flows; once
   * they are all taken, adds up to as many of its sessions to the talker rows;
   * then ranks talker slots, up to about as many rows (at least one slot).
   * True once all is done (then call finish()).
   */
  step(maxItems: number): boolean {
    const w = this.work;
    if (!w) throw new Error('FlowProcessor.step: no interval begun');
    const count = w.iv.flows.count;
    const most = Math.max(1, maxItems);
    if (w.next < count) this.takeFlows(w, Math.min(count, w.next + most));
    else if (w.nextSession < w.touched.length || !w.talkerRows) this.addToTalkers(w, Math.min(w.touched.length, w.nextSession + most));
    else {
      // slots of a few rows together: a turn each would only wait for the event loop
      let rows = 0;
      while (w.nextSlot < SLOT_COUNT && rows < most) {
        rows += w.talkerRows[w.nextSlot]!.length;
        rankSlot(w.nextSlot++, w.talkerRows, w.ranked, w.internet, w.onlyLan);
      }
    }
    // ranking comes last: once every slot is ranked, the flows and sessions are all taken
    return w.nextSlot >= SLOT_COUNT;
  }

  /** Does what is left of the interval, applies its counts to the sessions, and makes its stats. */
  finish(): IntervalStats {
    const w = this.work;
    if (!w) throw new Error('FlowProcessor.finish: no interval begun');
    this.takeFlows(w, w.iv.flows.count);
    this.addToTalkers(w, w.touched.length);
    while (w.nextSlot < SLOT_COUNT) rankSlot(w.nextSlot++, w.talkerRows!, w.ranked, w.internet, w.onlyLan);
    this.work = undefined;
    return this.complete(w);
  }

  private takeFlows(w: IntervalWork, end: number): void {
    const { n } = w;
    const { flows } = w.iv;
    const { ifaceNames, touched } = w;
    const { ifaceCodes } = this;
    const sums = this.sums.ensure(touched.length + (end - w.next));
    const traffic = w.traffic;
    const filterAll = !this.filter.empty;
    const { byId, classifier } = this;
    // over both caps: such a conversation is still one conversation within the interval
    let unkept = w.unkept;

    for (let i = w.next; i < end; i++) {
      const packets = flows.packets(i);
      const bytes = flows.bytes(i);
      const firstSeen = flows.firstSeen(i);
      const flowId = flows.flowId(i);
      const raw = flowId === FLOW_ID_NONE ? flows.rawKey(i) : '';
      const route = flowId === FLOW_ID_NONE ? this.routes.get(raw) : byId[flowId];
      let s: Session;
      let srcIsLocal: boolean;
      if (route) {
        // a flow of a known session: classified, filtered and keyed when first seen
        s = route.session;
        srcIsLocal = route.srcIsLocal;
      } else {
        const protocol = flows.protocol(i);
        const src = flows.src(i);
        const dst = flows.dst(i);
        const icmp = isIcmp(protocol);
        const sp = flows.srcPort(i);
        const dp = flows.dstPort(i);
        // IPv4 is classified from the address's value: no text parsed for a new address
        const v4 = flows.ipVersion(i) === 4;
        const cs = v4 ? classifier.classOfV4(flows.srcV4(i)) : classifier.classOf(src);
        const cd = v4 ? classifier.classOfV4(flows.dstV4(i)) : classifier.classOf(dst);
        const sides = sidesOf(cs, cd, flows.direction(i));
        srcIsLocal = sides.srcIsLocal;
        if (filterAll && !this.filter.accepts(protocol, src, dst, icmp ? 0 : sp, icmp ? 0 : dp, () => this.remoteName(srcIsLocal, src, dst, sp, dp, protocol, firstSeen))) {
          this.counters.filteredPackets += packets;
          this.counters.filteredBytes += bytes;
          (this.filteredFlows ??= new Set()).add(i);
          if (flowId !== FLOW_ID_NONE) this.released.push(flowId);
          continue;
        }
        const ifindex = flows.ifindex(i);
        const iface = ifaceNames.get(ifindex) ?? `#${ifindex}`;
        const local = srcIsLocal ? src : dst;
        const remote = srcIsLocal ? dst : src;
        // ICMP has no ports: its sessions are keyed by message kind (the type is in the source port field)
        const kind = icmp ? icmpKind(protocol, sp) : undefined;
        const localPort = icmp ? 0 : srcIsLocal ? sp : dp;
        const remotePort = icmp ? 0 : srcIsLocal ? dp : sp;
        const from: 'local' | 'remote' = srcIsLocal ? 'local' : 'remote';
        // IPv4 with ports is looked up by a number (no id text built or hashed); IPv6 and ICMP by the id
        let key: number | string;
        const localV4 = v4 ? (srcIsLocal ? flows.srcV4(i) : flows.dstV4(i)) | 0 : 0;
        const remoteV4 = v4 ? (srcIsLocal ? flows.dstV4(i) : flows.srcV4(i)) | 0 : 0;
        let known: Session | undefined;
        let fromUnkept = false;
        if (v4 && !icmp) {
          let code = ifaceCodes.get(iface);
          if (code === undefined) ifaceCodes.set(iface, (code = ifaceCodes.size));
          key = sessionHashV4(code, protocol, localV4, localPort, remoteV4, remotePort);
          known = this.sessions.getV4(key, iface, protocol, localV4, localPort, remoteV4, remotePort)
            ?? this.untracked.getV4(key, iface, protocol, localV4, localPort, remoteV4, remotePort);
          if (!known && unkept) fromUnkept = (known = unkept.getV4(key, iface, protocol, localV4, localPort, remoteV4, remotePort)) !== undefined;
        } else {
          key = sessionId(iface, protocol, local, localPort, remote, remotePort, kind);
          known = this.sessions.getText(key) ?? this.untracked.getText(key);
          if (!known && unkept) fromUnkept = (known = unkept.getText(key)) !== undefined;
        }
        let kept = true;
        if (!known) {
          // ICMP: the end that sent the request began it; else the first packet seen
          const initiator = icmp ? (icmpIsRequest(protocol, sp) === srcIsLocal ? 'local' : 'remote') : from;
          s = new Session(key, iface, protocol, local, localPort, remote, remotePort, sides.scope, kind, v4, localV4, remoteV4, firstSeen, initiator);
          s.created = n;
          s.seq = ++this.sessionsBegun;
          s.localClass = srcIsLocal ? cs : cd;
          s.remoteClass = srcIsLocal ? cd : cs;
          const max = this.config.sessions.maxSessions;
          if (this.sessions.size < max) {
            this.sessions.add(s);
            s.tracked = true;
            this.begunInWork++;
            const rk = s.remoteKey;
            this.remoteRefs.set(rk, (this.remoteRefs.get(rk) ?? 0) + 1);
          } else {
            this.counters.untracked++; // still counted below, in traffic and talkers
            if (this.untracked.size < max) this.untracked.add(s);
            else { (unkept ??= (w.unkept = new SessionTable())).add(s); kept = false; }
          }
        } else {
          s = known;
          kept = !fromUnkept;
          // both directions of a new conversation in one interval: the earlier first packet began it
          if (s.created === n && !icmp && firstSeen < s.firstSeen) s.initiator = from;
        }
        if (!kept) {
          if (flowId !== FLOW_ID_NONE) this.released.push(flowId);
        } else {
          const r: Route = { session: s, srcIsLocal, flowId, rawKey: raw, next: s.routes };
          s.routes = r;
          if (flowId !== FLOW_ID_NONE) byId[flowId] = r; else this.routes.set(raw, r);
        }
      }
      // summed aside (IntervalSums), applied to the session at complete(): the view stays whole meanwhile
      if (s.mark !== n) {
        s.mark = n;
        s.slot = touched.length;
        sums.open(s.slot, s.lastSeen);
        touched.push(s);
      }
      const t = s.slot;
      const flags = flows.tcpFlags(i);
      if (srcIsLocal) {
        sums.bytesUp[t] += bytes; sums.packetsUp[t] += packets; sums.flagsUp[t] |= flags;
      } else {
        sums.bytesDown[t] += bytes; sums.packetsDown[t] += packets; sums.flagsDown[t] |= flags;
      }
      // a session's first packet only moves earlier for one begun in this interval (not in the view yet)
      if (firstSeen < s.firstSeen) s.firstSeen = firstSeen;
      const lastSeen = flows.lastSeen(i);
      if (lastSeen > sums.lastSeen[t]!) sums.lastSeen[t] = lastSeen;
      addTraffic(traffic, s.iface, srcIsLocal ? 'up' : 'down', s.scope, bytes, packets);
    }
    w.next = end;
  }

  /** The interval's counts applied to its sessions, then talkers, the sweep and the stats (finish()). */
  private complete(w: IntervalWork): IntervalStats {
    const { iv, n, touched, traffic } = w;
    const sums = this.sums;
    for (let t = 0; t < touched.length; t++) {
      const s = touched[t]!;
      s.touched = n;
      const bu = sums.bytesUp[t]!, bd = sums.bytesDown[t]!, pu = sums.packetsUp[t]!, pd = sums.packetsDown[t]!;
      s.dBytesUp = bu; s.dBytesDown = bd; s.dPacketsUp = pu; s.dPacketsDown = pd;
      s.bytesUp += bu; s.bytesDown += bd; s.packetsUp += pu; s.packetsDown += pd;
      s.tcpFlagsUp |= sums.flagsUp[t]!;
      s.tcpFlagsDown |= sums.flagsDown[t]!;
      if (sums.lastSeen[t]! > s.lastSeen) s.lastSeen = sums.lastSeen[t]!;
      s.updateTcpState();
    }

    // overflow packets have no addresses: ingress counts as down, egress as up
    for (const t of iv.totals) {
      if (t.ingress.overflowPackets) addTraffic(traffic, t.iface, 'down', 'unknown', t.ingress.overflowBytes, t.ingress.overflowPackets);
      if (t.egress.overflowPackets) addTraffic(traffic, t.iface, 'up', 'unknown', t.egress.overflowBytes, t.egress.overflowPackets);
    }

    const { talkers, scopedTalkers } = talkersOf(w.ranked, w.internet, w.onlyLan);
    // conversations over both caps live for this interval only
    if (w.unkept) for (const u of w.unkept.values()) this.unroute(u);
    const { ended, activeRemotes } = this.sweep(iv.end);
    for (const ids of this.keyIds) ids.reuse();
    // after the sweep, which ends no session with traffic in this interval
    this.moved = touched.filter((s) => s.tracked);
    this.published = n;
    return {
      start: iv.start,
      end: iv.end,
      traffic: trafficRows(traffic),
      activeSessions: this.sessions.size,
      activeRemotes,
      talkers,
      scopedTalkers,
      endedSessions: ended,
    };
  }

  /**
   * Labels the interval's new sessions (and unnamed ones due a retry) and adds
   * the touched sessions from `nextSession` to `end` to the talker rows (all
   * traffic's and, when some traffic is not LAN, LAN's too), by the interval's
   * sums: the sessions' own counts are not yet changed (complete()).
   */
  private addToTalkers(w: IntervalWork, end: number): void {
    const { n, touched } = w;
    const now = w.iv.end, intervalMs = w.iv.end - w.iv.start;
    if (!w.talkerRows) {
      w.talkerRows = emptyTalkerRows();
      // an interval of LAN sessions only (a NAS, a LAN-side replay): its LAN talkers are all of
      // them, the very same rows, summed once; the history keeps them in shared maps as it does
      // internet sets with no LAN traffic (store/pending.ts)
      let onlyLan = touched.length > 0;
      for (const s of touched) if (s.scope !== 'lan') { onlyLan = false; break; }
      w.onlyLan = onlyLan;
    }
    const rows = w.talkerRows;
    const lanSlots = !w.onlyLan;
    const sums = this.sums;
    for (let t = w.nextSession; t < end; t++) {
      const s = touched[t]!;
      const isNew = s.created === n;
      if (isNew && s.protocol === IPPROTO_TCP && !((sums.flagsUp[t]! | sums.flagsDown[t]!) & TCP_SYN)) {
        s.initiator = guessInitiator(s.localPort, s.remotePort); // joined mid-stream
      }
      if (isNew || (s.unnamedSince && nameRetryDue(now - s.unnamedSince, intervalMs))) this.label(s, now);
      const accs = s.talkers;
      const bu = sums.bytesUp[t]!, bd = sums.bytesDown[t]!, pu = sums.packetsUp[t]!, pd = sums.packetsDown[t]!;
      for (let d = 0; d < DIM_COUNT; d++) accumulate(accs[d]!, rows[d]!, n, bu, bd, pu, pd, isNew);
      if (lanSlots && s.scope === 'lan') for (let d = LAN_BASE; d < LAN_BASE + DIM_COUNT; d++) accumulate(accs[d]!, rows[d]!, n, bu, bd, pu, pd, isNew);
    }
    w.nextSession = end;
  }

  /**
   * Points a session at the accumulators of its talker keys (once, and again
   * when a key changes with a new label): slot d for all traffic and, for LAN
   * traffic, slot LAN_BASE + d too. s.talkers is indexed by slot.
   */
  private bind(s: Session, keys: string[], deviceLabel: string | undefined): void {
    const lan = s.scope === 'lan';
    // sized once for its slots: grown one slot at a time it would hold twice as many
    if (s.talkers.length === 0) s.talkers = new Array<TalkerAccumulator>(lan ? SLOT_COUNT : DIM_COUNT);
    for (let d = 0; d < DIM_COUNT; d++) {
      const label = d === 0 ? s.labels.domain : d === 5 ? s.labels.asOrg : d === 7 ? deviceLabel : undefined;
      this.bindSlot(s, d, keys[d]!, label);
      if (lan) this.bindSlot(s, LAN_BASE + d, keys[d]!, label);
    }
  }

  private bindSlot(s: Session, slot: number, key: string, label: string | undefined): void {
    const bound = s.talkers[slot];
    let a: TalkerAccumulator;
    if (bound?.key === key) {
      a = bound;
    } else {
      if (bound) this.unbindOne(slot, bound);
      const last = this.lastBound[slot];
      // an accumulator with refs is still in its map (unbindOne removes it at 0)
      if (last !== undefined && last.refs > 0 && last.key === key) a = last;
      else {
        const m = this.accumulators[slot]!;
        const known = m.get(key);
        if (known) a = known;
        else m.set(key, (a = newAccumulator(key, this.keyIds[slot]!.take())));
        this.lastBound[slot] = a;
      }
      a.refs++;
      s.talkers[slot] = a;
    }
    if (label) a.label = label;
  }

  private unbindOne(slot: number, a: TalkerAccumulator): void {
    // an accumulator with traffic in this interval stays in its rows list; only the map forgets it
    if (--a.refs === 0) {
      this.accumulators[slot]!.delete(a.key);
      this.keyIds[slot]!.release(a.id!);
    }
  }

  /**
   * Looks up the remote's place (once), its name and the local end's device
   * (again when nameRetryDue, until both are found or NAME_RETRY_MS), then the
   * talker keys. A device's MAC can be learned after its session began (the
   * neighbour table is read every few seconds): the session then moves to the
   * MAC's row from that interval on.
   * This host's own addresses are never a neighbour's: not looked up, not retried.
   */
  private label(s: Session, now: number): void {
    const e = this.enrichment;
    const device = this.classifier.isHost(s.local) ? undefined : e?.device?.(s.local);
    const retry = s.created !== this.interval;
    const domainBefore = s.labels.domain;
    if (e) {
      if (!retry && s.scope === 'internet') {
        const place = e.place(s.remote);
        // a session's own labels object only once it has a label (NO_LABELS is shared)
        if (place.country !== undefined || place.city !== undefined || place.asn !== undefined || place.asOrg !== undefined) s.labels = { ...s.labels, ...place };
      }
      const domain = e.domain(s.local, s.localPort, s.remote, s.remotePort, s.protocol, s.firstSeen);
      if (domain) {
        if (s.labels === NO_LABELS) s.labels = {};
        s.labels.domain = domain;
      }
      if (s.labels.domain && (!device || device.mac)) s.unnamedSince = 0; else if (!s.unnamedSince) s.unnamedSince = now;
    }
    // a retry that found nothing new keeps its keys: most unnamed sessions never get a name, and
    // re-keying every one of them every interval for NAME_RETRY_MS was the processor's largest cost
    if (retry && s.labels.domain === domainBefore && device?.mac === s.deviceMac && device?.label === s.deviceLabel) return;
    s.deviceMac = device?.mac;
    s.deviceLabel = device?.label;
    const { labels } = s;
    const lan = s.scope === 'lan';
    const localKey = specialOf(s.localClass) ?? s.local;
    this.bind(s, [
      specialOf(s.remoteClass) ?? s.remote,
      localKey,
      s.service,
      protocolName(s.protocol),
      lan ? 'private' : labels.country ?? 'unknown',
      lan ? 'private' : labels.asn !== undefined ? `AS${labels.asn}` : 'unknown',
      labels.domain ?? 'unknown',
      device?.mac ?? localKey,
    ], device?.label);
  }

  /** Ends sessions past their timeout (and not touched in this interval); counts the remotes of the rest. */
  private sweep(now: number): { ended: SessionRecord[]; activeRemotes: number } {
    const ended: SessionRecord[] = [];
    const cfg = this.config.sessions;
    const expired = (s: Session) => s.touched !== this.interval && s.expiresAt(cfg) <= now;
    this.sessions.removeWhere(expired, (s) => {
      const reason = s.state === 'closed' ? 'closed' : s.state === 'reset' ? 'reset' : 'idle';
      ended.push(s.toRecord(reason));
      const rk = s.remoteKey;
      const refs = this.remoteRefs.get(rk)! - 1;
      if (refs === 0) this.remoteRefs.delete(rk); else this.remoteRefs.set(rk, refs);
      this.unroute(s);
    });
    // untracked conversations end the same way, silently (they were never reported as sessions)
    this.untracked.removeWhere(expired, (s) => this.unroute(s));
    this.counters.ended += ended.length;
    return { ended, activeRemotes: this.remoteRefs.size };
  }

  /** Forgets an ended session's flows (their ids go back to the collector) and its talker keys. */
  private unroute(s: Session): void {
    s.talkers.forEach((a, d) => this.unbindOne(d, a));
    s.talkers.length = 0;
    for (let r = s.routes; r; r = r.next) {
      if (r.flowId === FLOW_ID_NONE) this.routes.delete(r.rawKey);
      else {
        this.byId[r.flowId] = undefined;
        this.released.push(r.flowId);
      }
    }
    s.routes = undefined;
  }

  /** Ends every session (shutdown), for the session log. */
  endAll(): SessionRecord[] {
    const ended = [...this.sessions.values()].map((s) => s.toRecord('shutdown'));
    this.counters.ended += ended.length;
    for (const s of this.sessions.values()) this.unroute(s);
    for (const s of this.untracked.values()) this.unroute(s);
    this.sessions.clear();
    this.untracked.clear();
    this.remoteRefs.clear();
    this.moved = [];
    return ended;
  }

  status(): FlowsStatus {
    return {
      sessions: this.sessions.size,
      maxSessions: this.config.sessions.maxSessions,
      untrackedSessions: this.counters.untracked,
      endedSessions: this.counters.ended,
      filteredPackets: this.counters.filteredPackets,
      filteredBytes: this.counters.filteredBytes,
    };
  }
}

/**
 * `all` minus `part`, key by key (both ranked by bytes, as the processor makes
 * them): the internet talkers from all and LAN. Rows without a LAN part are
 * the same objects (rows are read-only once made); when nothing is LAN, the
 * same array.
 */
function withoutRows(all: TalkerRow[], part: TalkerRow[]): TalkerRow[] {
  if (part.length === 0) return all;
  const parts = new Map(part.map((r) => [r.key, r]));
  const out: TalkerRow[] = [];
  let changed = false;
  for (const r of all) {
    const p = parts.get(r.key);
    if (!p) { out.push(r); continue; }
    const rest = rowOf(r);
    subtractCounts(rest, p);
    changed = true;
    if (!isZero(rest)) out.push(rest);
  }
  if (changed) rankRows(out);
  return out;
}
