import type { Test } from 'tap';
/**
 * Real clients of the flowlens APIs for tests: grpc-js with the generated
 * client classes (promises for unary calls), and HTTP(S) requests over TCP or a
 * Unix socket (see unix-forward.cjs), returning status, headers and body.
 */
import http from 'node:http';
import https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { AdminClient, TrafficClient } from '../../src/api/grpc/gen/flowlens/v1/flowlens.js';

export interface GrpcClients {
  traffic: TrafficClient;
  admin: AdminClient;
  /** A unary call as a promise: unary(c.traffic, 'summary', req). */
  close(): void;
}

export function grpcClients(target: string, creds = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}): GrpcClients {
  const traffic = new TrafficClient(target, creds, options);
  const admin = new AdminClient(target, creds, options);
  return { traffic, admin, close: () => { traffic.close(); admin.close(); } };
}

export function bearer(token: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

/** Calls a unary method; resolves with the answer or rejects with the ServiceError. */
export function unary<Res>(client: grpc.Client, method: string, req: unknown, metadata = new grpc.Metadata()): Promise<Res> {
  return new Promise((resolve, reject) => {
    // a deadline: a call that cannot connect (a refused TLS handshake) fails instead of waiting forever
    (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Res) => void) => void>)[method]!
      .call(client, req, metadata, { deadline: Date.now() + 10_000 }, (e, v) => (e ? reject(e) : resolve(v)));
  });
}

/** The gRPC status code of a failed call (or -1 when it did not fail). */
export async function grpcCode(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
    return { code: -1, details: '' };
  } catch (e) {
    return { code: (e as grpc.ServiceError).code, details: (e as grpc.ServiceError).details };
  }
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): any;
}

export interface HttpTarget {
  /** "http://127.0.0.1:8080" (the host part is ignored with socketPath). */
  base: string;
  socketPath?: string;
  ca?: Buffer;
}

export function httpRequest(target: HttpTarget, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  const url = new URL(path, target.base);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method: opts.method ?? 'GET', headers: opts.headers, agent: false,
      ...(target.socketPath ? { socketPath: target.socketPath } : {}),
      ...(target.ca ? { ca: target.ca, servername: 'localhost' } : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${path}: no answer in 15 s`)));
    req.end(opts.body);
  });
}

/** GET `path` as JSON, checking (as a test assertion) that it answered 200. */
export async function getOk<T>(t: Test, target: HttpTarget, path: string): Promise<T> {
  const r = await httpRequest(target, path);
  t.equal(r.status, 200, `${path}: 200 ${r.text.slice(0, 200)}`);
  return r.json() as T;
}

/** Reads Server-Sent Events until `want` events of a type arrived (or the time is up); then closes. */
export function readEvents(target: HttpTarget, path: string, type: string, want: number, timeoutMs: number, headers: Record<string, string> = {}): Promise<{ status: number; events: any[] }> {
  const url = new URL(path, target.base);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    const req = lib.request(url, { headers, agent: false, ...(target.socketPath ? { socketPath: target.socketPath } : {}) }, (res) => {
      let buf = '';
      const done = () => { clearTimeout(timer); req.destroy(); resolve({ status: res.statusCode ?? 0, events }); };
      const timer = setTimeout(done, timeoutMs);
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev === type && data) events.push(JSON.parse(data));
          if (events.length >= want) return done();
        }
      });
      res.on('end', done);
    });
    req.on('error', (e) => (events.length ? resolve({ status: 200, events }) : reject(e)));
    req.end();
  });
}
