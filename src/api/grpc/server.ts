/**
 * The gRPC API (grpc-js): the Traffic and Admin services of
 * proto/flowlens/v1/flowlens.proto over ApiService, plus the standard health
 * service and server reflection so that generic tools (grpcurl, grpc_cli,
 * grpc-health-probe) work without our .proto files.
 *
 * Access: with tokens configured every Traffic call needs `authorization:
 * Bearer TOKEN` metadata (read or admin) and every Admin call an admin token;
 * health and reflection stay open (probes, schema only). Each client address
 * may make `rateLimit` calls a minute (a token bucket). TLS from the
 * certificate and key files; with a client CA, clients must present a
 * certificate it signed.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { FlowlensError } from '../../errors.js';
import { internalError } from '../internal-error.js';
import type { IntervalStats } from '../../flows/types.js';
import { allows, type Role, type TokenSet } from '../auth.js';
import type { ApiService } from '../service.js';
import { FILE_DESCRIPTOR_SET_BASE64 } from './gen/descriptor-set.js';
import type { AlertsComponent } from '../../alerts/index.js';
import { listAlerts, watchAlerts } from './alerts.js';
import { captureOverGrpc } from './capture.js';
import type { PacketCaptures } from '../../capture/index.js';
import { AdminService, AlertsService, TrafficService, type CaptureChunk, type CaptureRequest, type AlertEvent, type ListAlertsRequest, type WatchAlertsRequest, type LiveUpdate, type SessionsResponse, type WatchLiveRequest, type WatchSessionsRequest } from './gen/flowlens/v1/flowlens.js';

export interface GrpcOptions {
  host: string;
  port: number;
  tokens: TokenSet;
  /** PEM texts. */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  /** Calls per minute per client address. */
  rateLimit: number;
  /** Largest request message, bytes. */
  maxMessageBytes: number;
  /** The alerts, when they run (without, the Alerts service answers INVALID_ARGUMENT: alerts are off). */
  alerts?: AlertsComponent;
  /** Packet captures of the running collector (Admin.Capture), when it has them. */
  captures?(): PacketCaptures | undefined;
}

/**
 * The files of protoc's FileDescriptorSet, each as protoc encoded it. Reflection
 * answers with these (not descriptors rebuilt by proto-loader, which Python's
 * protobuf rejects and which carry made-up file names), so that
 * file_by_filename("flowlens/v1/flowlens.proto") and every client's pool work.
 */
function protocFileDescriptors(): Buffer[] {
  const set = Buffer.from(FILE_DESCRIPTOR_SET_BASE64, 'base64');
  const files: Buffer[] = [];
  // FileDescriptorSet is `repeated FileDescriptorProto file = 1`: a run of
  // (tag 0x0a, varint length, bytes) records
  for (let at = 0; at < set.length;) {
    if (set[at++] !== 0x0a) throw new Error('descriptor-set.ts is not a FileDescriptorSet: run bash scripts/generate-proto.sh');
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const b = set[at++]!;
      length |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    files.push(set.subarray(at, at + length));
    at += length;
  }
  return files;
}

/** A token bucket per client address: `perMinute` calls, refilled continuously. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly perMinute: number) {}

  take(client: string, now = Date.now()): boolean {
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size > 10_000) this.buckets.clear(); // many clients: forget the quiet ones
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** "127.0.0.1:4321", "[::1]:4321", "ipv4:..." → the address alone. */
function peerAddress(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[(.*)\]:\d+$/.exec(p);
  if (v6) return v6[1]!;
  return p.replace(/:\d+$/, '');
}

/** A refusal the caller can act on says what is wrong; anything else is INTERNAL with an id (details in the log). */
function grpcError(e: unknown, method: string): Partial<grpc.StatusObject> {
  if (e instanceof FlowlensError && (e.code === 'FLOW_ERR_USAGE' || e.code === 'FLOW_ERR_STORE')) {
    const code = e.code === 'FLOW_ERR_USAGE' ? grpc.status.INVALID_ARGUMENT : grpc.status.FAILED_PRECONDITION;
    return { code, details: e.hint ? `${e.message} (${e.hint})` : e.message };
  }
  return { code: grpc.status.INTERNAL, details: internalError(e, `gRPC ${method}`) };
}

/**
 * The service with response serializers whose failures are logged with an id
 * and rethrown without their text (grpc-js answers "Error serializing
 * response", and some versions add the error's message).
 */
function withOpaqueSerializeErrors<S extends grpc.ServiceDefinition>(service: S): S {
  return Object.fromEntries(Object.entries(service).map(([name, m]) => [name, {
    ...m,
    responseSerialize: (value: unknown) => {
      try {
        return m.responseSerialize(value);
      } catch (e) {
        throw new Error(internalError(e, `gRPC ${m.path} response`));
      }
    },
  }])) as S;
}

/** Ends a server stream with an error status ('error' is how grpc-js takes a status for a stream). */
function fail(call: grpc.ServerWritableStream<any, any>, status: Partial<grpc.StatusObject>): void {
  call.emit('error', Object.assign(new Error(status.details), status));
}

type Call = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

interface Stream<Req, Res> {
  method: string;
  call: grpc.ServerWritableStream<Req, Res>;
  update(stats: IntervalStats): Res;
  /** A write returned false: skip updates until the client catches up. */
  busy: boolean;
}

export class GrpcApi {
  private readonly server: grpc.Server;
  private readonly limiter: RateLimiter;
  private readonly health = new HealthImplementation({ '': 'SERVING', 'flowlens.v1.Traffic': 'SERVING', 'flowlens.v1.Admin': 'SERVING', 'flowlens.v1.Alerts': 'SERVING' });
  private readonly streams = new Set<Stream<any, any>>();
  /** Open WatchAlerts streams: each ends (status OK) when the server closes. */
  private readonly alertStreams = new Set<() => void>();
  port = 0;

  constructor(private readonly service: ApiService, private readonly opts: GrpcOptions) {
    this.limiter = new RateLimiter(opts.rateLimit);
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': opts.maxMessageBytes });
    const s = service;
    this.server.addService(withOpaqueSerializeErrors(TrafficService), {
      summary: this.unary('Summary', 'read', (req) => s.summary(req as any)),
      history: this.unary('History', 'read', (req) => s.historyRange(req as any)),
      dateRange: this.unary('DateRange', 'read', () => s.dateRange()),
      topTalkers: this.unary('TopTalkers', 'read', (req) => s.topTalkers(req as any)),
      usage: this.unary('Usage', 'read', (req) => s.usage(req as any)),
      sessions: this.unary('Sessions', 'read', (req) => s.sessions(req as any)),
      realtime: this.unary('Realtime', 'read', (req) => s.realtime(req as any)),
      status: this.unary('Status', 'read', () => s.status()),
      devices: this.unary('Devices', 'read', () => s.deviceMessages()),
      reconcile: this.unary('Reconcile', 'read', () => s.reconcileMessage()),
      watchLive: this.streaming<WatchLiveRequest, LiveUpdate>('WatchLive', (req) => {
        s.checkWatchLive(req);
        return (stats) => s.liveUpdate(req, stats);
      }),
      watchSessions: this.streaming<WatchSessionsRequest, SessionsResponse>('WatchSessions', (req) => {
        s.watchSessions(req); // a bad filter fails the call now, not at the first interval
        return () => s.watchSessions(req);
      }),
    });
    this.server.addService(withOpaqueSerializeErrors(AlertsService), {
      listAlerts: this.unary('ListAlerts', 'read', (req) => listAlerts(this.opts.alerts, req as ListAlertsRequest)),
      watchAlerts: (call: grpc.ServerWritableStream<WatchAlertsRequest, AlertEvent>) => {
        const refused = this.admit(call as Call, 'read');
        if (refused) return fail(call, refused);
        let stop: () => void;
        try {
          stop = watchAlerts(this.opts.alerts, (e) => { if (!call.cancelled) call.write(e); });
        } catch (e) {
          return fail(call, grpcError(e, 'WatchAlerts'));
        }
        const ends = () => { stop(); this.alertStreams.delete(end); };
        const end = () => { ends(); call.end(); };
        this.alertStreams.add(end);
        call.on('cancelled', ends);
        call.on('close', ends);
        call.on('error', ends);
      },
    });
    this.server.addService(withOpaqueSerializeErrors(AdminService), {
      flushHistory: this.unary('FlushHistory', 'admin', () => s.flushHistory()),
      capture: (call: grpc.ServerWritableStream<CaptureRequest, CaptureChunk>) => {
        const refused = this.admit(call as Call, 'admin');
        if (refused) return fail(call, refused);
        const r = captureOverGrpc(call, this.opts.captures?.());
        if (r) fail(call, r);
      },
    });
    this.health.addToServer(this.server);
    // ReflectionService reads the descriptors of a package definition's types
    // (fileDescriptorProtos); one entry holding protoc's files is all it needs
    const definitions = { 'flowlens.v1': { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos: protocFileDescriptors() } };
    new ReflectionService(definitions as never).addToServer(this.server);
  }

  /** Token and rate checks; on refusal the call is answered here and null returned. */
  private admit(call: Call, need: Role): grpc.StatusObject | null {
    const refuse = (code: grpc.status, details: string): grpc.StatusObject => ({ code, details, metadata: new grpc.Metadata() });
    if (!this.limiter.take(peerAddress(call.getPeer()))) return refuse(grpc.status.RESOURCE_EXHAUSTED, 'too many calls from this address: slow down');
    const auth = call.metadata.get('authorization')[0];
    const access = this.opts.tokens.check(typeof auth === 'string' ? auth : undefined);
    if (access === 'none') return refuse(grpc.status.UNAUTHENTICATED, 'a token is required: send metadata "authorization: Bearer TOKEN"');
    if (!allows(access, need)) return refuse(grpc.status.PERMISSION_DENIED, 'this call needs an admin token');
    return null;
  }

  private unary(method: string, need: Role, answer: (req: unknown) => unknown): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const refused = this.admit(call, need);
      if (refused) return callback(refused);
      // an answer may be a promise (a long history range is computed in slices)
      Promise.resolve().then(() => answer(call.request)).then((response) => callback(null, response), (e: unknown) => callback(grpcError(e, method)));
    };
  }

  private streaming<Req, Res>(method: string, open: (req: Req) => (stats: IntervalStats) => Res): grpc.handleServerStreamingCall<Req, Res> {
    return (call) => {
      const refused = this.admit(call as Call, 'read');
      if (refused) return fail(call, refused);
      let update: (stats: IntervalStats) => Res;
      try {
        update = open(call.request);
      } catch (e) {
        return fail(call, grpcError(e, method));
      }
      const stream: Stream<Req, Res> = { method, call, update, busy: false };
      this.streams.add(stream);
      const forget = () => this.streams.delete(stream);
      call.on('cancelled', forget);
      call.on('close', forget);
      call.on('error', forget);
      call.on('drain', () => { stream.busy = false; });
    };
  }

  /** Sends every open stream its update for the interval just processed. */
  publish(stats: IntervalStats): void {
    for (const s of this.streams) {
      if (s.busy || s.call.cancelled) continue;
      try {
        s.busy = !s.call.write(s.update(stats));
      } catch (e) {
        this.streams.delete(s);
        fail(s.call, grpcError(e, s.method));
      }
    }
  }

  async listen(): Promise<number> {
    const { tls } = this.opts;
    const creds = tls
      ? grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.clientCa !== undefined)
      : grpc.ServerCredentials.createInsecure();
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${host}:${this.opts.port}`, creds, (e, port) => (e ? reject(e) : resolve(port)));
    }).catch((e: Error) => {
      throw new FlowlensError('FLOW_ERR_USAGE', `cannot serve gRPC on ${host}:${this.opts.port}: ${e.message}`,
        'choose another port with --grpc-port (0 picks a free one) or stop what uses it');
    });
    return this.port;
  }

  /** Ends every stream cleanly (status OK), then stops; calls in flight get a moment to finish. */
  async close(): Promise<void> {
    this.health.setStatus('', 'NOT_SERVING');
    for (const s of this.streams) s.call.end();
    this.streams.clear();
    for (const end of [...this.alertStreams]) end();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => { this.server.forceShutdown(); resolve(); }, 2000);
      force.unref();
      this.server.tryShutdown(() => { clearTimeout(force); resolve(); });
    });
  }
}

/** Reads the TLS files of the configuration (a clear error names the one that fails). */
export function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new FlowlensError('FLOW_ERR_USAGE', `cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the path and its permissions');
  }
}
