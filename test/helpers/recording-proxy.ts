/**
 * An HTTP proxy on loopback that forwards every request to a real server and
 * records, in arrival order, what the server answered: method, path, headers
 * and the (un-gzipped) body. Tests use it to see what went over the wire and
 * in which order. When the server is down, the proxy drops the client's
 * connection, as a host that is down or a load balancer with no backend would.
 */
import http from 'node:http';
import type net from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

export class RecordingProxy {
  readonly requests: RecordedRequest[] = [];
  /** Requests the proxy could not forward (server down). */
  refused = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(upstream: string): Promise<RecordingProxy> {
    const target = new URL(upstream);
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const proxy = new RecordingProxy(server, `http://127.0.0.1:${port}`);
    server.on('connection', (s) => { proxy.sockets.add(s); s.on('close', () => proxy.sockets.delete(s)); });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const up = http.request({
          host: target.hostname, port: target.port, method: req.method, path: req.url,
          headers: { ...req.headers, host: target.host },
          agent: false,
        }, (upRes) => {
          const answer: Buffer[] = [];
          upRes.on('data', (c: Buffer) => answer.push(c));
          upRes.on('end', () => {
            const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
            proxy.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, status: upRes.statusCode ?? 0 });
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            res.end(Buffer.concat(answer));
          });
        });
        up.on('error', () => {
          proxy.refused++;
          req.socket.destroy();
        });
        up.end(raw);
      });
    });
    return proxy;
  }

  /** The lines of the requests the server accepted (2xx), in the order they arrived. */
  acceptedLines(): string[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.body.split('\n').filter(Boolean));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
