/**
 * Admin.Capture: a packet capture streamed as CaptureChunk messages (the
 * file's bytes as they are written, then the result), over the same capture
 * parameters as GET /api/capture (../capture.ts). A client that cancels ends
 * the capture; one that reads too slowly loses frames (counted), never the
 * server's memory.
 */
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { FlowlensError } from '../../errors.js';
import type { PacketCaptures } from '../../capture/index.js';
import { captureSpec } from '../capture.js';
import type { CaptureChunk, CaptureRequest } from './gen/flowlens/v1/flowlens.js';

/** Starts the capture on the call; a refusal is returned as a status (the caller ends the call with it). */
export function captureOverGrpc(call: grpc.ServerWritableStream<CaptureRequest, CaptureChunk>, captures: PacketCaptures | undefined): Partial<grpc.StatusObject> | undefined {
  if (!captures) return { code: grpc.status.UNAVAILABLE, details: 'this flowlens has no packet captures (it counts nothing, or capture.ringSize is 0)' };
  const q = call.request;
  let capture;
  try {
    const spec = captureSpec({
      iface: q.iface, host: q.host, net: q.net, port: q.port, proto: q.proto, session: q.session, snaplen: q.snaplen,
      count: q.count, duration: q.duration, maxSize: q.maxSize, format: q.format,
    }, 'params');
    // the call's flow control is the output's: a write that must wait holds the next one back
    const out = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (call.cancelled) return cb();
        if (call.write({ data: chunk, result: undefined })) cb();
        else call.once('drain', () => cb());
      },
    });
    capture = captures.start({ ...spec, out });
  } catch (e) {
    if (e instanceof FlowlensError && e.code === 'FLOW_ERR_CAPTURE_BUSY') return { code: grpc.status.RESOURCE_EXHAUSTED, details: e.message };
    if (e instanceof FlowlensError && (e.code === 'FLOW_ERR_USAGE' || e.code === 'FLOW_ERR_UNKNOWN_INTERFACE')) {
      return { code: grpc.status.INVALID_ARGUMENT, details: e.hint ? `${e.message} (${e.hint})` : e.message };
    }
    throw e;
  }
  const running = capture;
  call.on('cancelled', () => running.finish('output-closed'));
  void running.done.then((r) => {
    if (call.cancelled) return;
    call.write({
      data: Buffer.alloc(0),
      result: {
        packets: r.packets, bytes: r.bytes, fileBytes: r.fileBytes, matched: r.matched, dropped: r.dropped, outputDropped: r.outputDropped,
        reason: r.reason, expression: r.expression, interfaces: r.interfaces, startedAt: r.startedAt, endedAt: r.endedAt,
      },
    });
    call.end();
  });
  return undefined;
}
