/**
 * Packet captures over the JSON API (admin token: a capture holds payloads):
 *
 *   GET  /api/capture?iface=&host=&net=&port=&proto=&session=&snaplen=&count=&duration=&maxSize=&format=
 *        streams a pcapng (or pcap) file of the matching frames from now on,
 *        until a limit is reached, the capture is stopped, or the client goes
 *        away. Headers: x-flowlens-capture-id (to stop it), a download file
 *        name; trailer x-flowlens-capture: the result as JSON (frames written,
 *        matched, dropped, why it ended).
 *  POST  /api/capture/:id/stop
 *        ends that capture cleanly (its file gets its statistics block);
 *        answers with the result.
 *
 * 409 while every capture slot is in use, 400 for a bad filter or an
 * interface flowlens does not count on, 503 when this flowlens has no packet
 * captures (the packet ring is off, or it serves a stored history).
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify';
import { FlowlensError } from '../../errors.js';
import type { PacketCaptures } from '../../capture/index.js';
import { captureContentType, captureFileName, captureSpec, type CaptureParams, type CaptureRegistry } from '../capture.js';

const str = (description: string) => ({ type: 'string', description, minLength: 1 });

const CAPTURE_QUERY = {
  type: 'object', additionalProperties: false, properties: {
    iface: str('interface name (default: every interface counted on)'),
    host: str('an address: frames from or to it'),
    net: str('a CIDR prefix: frames from or to an address in it'),
    port: { type: 'integer', minimum: 0, maximum: 65535, description: 'a TCP or UDP port, either end' },
    proto: str('tcp, udp, icmp, ... or an IP protocol number'),
    session: str('a session id (the id of /api/sessions): both directions of that session'),
    snaplen: { type: 'integer', minimum: 1, maximum: 65535, description: 'bytes of each frame to keep (default 65535)' },
    count: { type: 'integer', minimum: 1, description: 'stop after this many frames' },
    duration: str('stop after this long: 30s, 500ms, 2m or seconds'),
    maxSize: str('the file stays within this size: 10MB, 512KiB or bytes'),
    format: { type: 'string', enum: ['pcapng', 'pcap'], description: 'pcapng (default: directions and statistics) or pcap' },
  },
};

function refuse(reply: FastifyReply, code: number, message: string, hint?: string) {
  return reply.code(code).send({ statusCode: code, error: code === 409 ? 'Conflict' : code === 503 ? 'Service Unavailable' : 'Bad Request', message, ...(hint ? { hint } : {}) });
}

export function captureRoutes(app: FastifyInstance, captures: () => PacketCaptures | undefined, registry: CaptureRegistry, admin: preHandlerHookHandler): void {
  app.get('/api/capture', { schema: { summary: 'Stream a pcapng of the frames that match a filter, from now on (admin)', querystring: CAPTURE_QUERY }, onRequest: admin }, async (req, reply) => {
    // HEAD describes the download; it starts no capture
    if (req.method === 'HEAD') return reply.code(200).header('content-type', captureContentType('pcapng')).send();
    const pc = captures();
    if (!pc) return refuse(reply, 503, 'this flowlens has no packet captures', 'it counts nothing (flowlens serve), or capture.ringSize is 0');
    const spec = captureSpec(req.query as CaptureParams, 'params');
    const out = new PassThrough();
    let capture;
    try {
      capture = pc.start({ ...spec, out });
    } catch (e) {
      if (e instanceof FlowlensError && e.code === 'FLOW_ERR_CAPTURE_BUSY') return refuse(reply, 409, e.message, e.hint);
      if (e instanceof FlowlensError && e.code === 'FLOW_ERR_UNKNOWN_INTERFACE') return refuse(reply, 400, e.message, e.hint);
      throw e;
    }
    const id = registry.add(capture);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': captureContentType(spec.format),
      'content-disposition': `attachment; filename="${captureFileName(spec)}"`,
      'cache-control': 'no-store',
      'x-flowlens-capture-id': id,
      'access-control-expose-headers': 'x-flowlens-capture-id, content-disposition',
      trailer: 'x-flowlens-capture',
    });
    out.pipe(res, { end: false });
    // the client went away: the capture ends (its slot is free again)
    res.on('close', () => capture.finish('output-closed'));
    out.on('end', () => {
      void capture.done.then((r) => {
        if (res.destroyed) return;
        res.addTrailers({ 'x-flowlens-capture': JSON.stringify(r) });
        res.end();
      });
    });
  });

  app.post('/api/capture/:id/stop', {
    schema: { summary: 'End a running capture cleanly (admin)', params: { type: 'object', properties: { id: { type: 'string', minLength: 1 } }, required: ['id'] } },
    onRequest: admin,
  }, async (req, reply) => {
    const done = registry.stop((req.params as { id: string }).id);
    if (!done) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'no running capture has that id (it ended, or it never ran)' });
    return done;
  });
}
