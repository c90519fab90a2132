/**
 * A webhook receiver on loopback for the alert tests: keeps every request's
 * body and signature header; `down` makes it answer 503 (an outage).
 */
import http from 'node:http';
import net from 'node:net';
import type { Test } from 'tap';

export interface WebhookReceiverFixture {
  url: string;
  requests: Array<{ body: string; signature: string | undefined }>;
  /** Answer 503 while true. */
  down: boolean;
  /** Requests refused while down. */
  refused: number;
  /** Every notification received, in order: [event, kind, id]. */
  notifications(): Array<{ event: string; alert: { id: number; kind: string; subject: Record<string, string>; state: string; contributors: unknown[] } }>;
}

export async function webhookReceiver(t: Test): Promise<WebhookReceiverFixture> {
  const fixture: WebhookReceiverFixture = {
    url: '', requests: [], down: false, refused: 0,
    notifications: () => fixture.requests.flatMap((r) => (JSON.parse(r.body) as { notifications: ReturnType<WebhookReceiverFixture['notifications']> }).notifications),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fixture.down) { fixture.refused++; res.writeHead(503).end(); return; }
      fixture.requests.push({ body: Buffer.concat(chunks).toString(), signature: req.headers['x-flowlens-signature'] as string | undefined });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  fixture.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
  return fixture;
}

/** Waits until cond() holds (polling), or fails after timeoutMs. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
