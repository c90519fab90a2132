/**
 * The server name (SNI, RFC 6066) of a TLS ClientHello, read from the start of
 * a TCP payload: record header, handshake header, then the hello's fixed
 * fields and extensions (RFC 8446 4.1.2; TLS 1.0-1.2 hellos have the same
 * shape).
 *
 * The payload is a capture of one segment, cut at 512 bytes, and may be
 * anything. Every length is checked against what is there; a hello cut before
 * its server_name extension ends gives undefined, as does garbage. Nothing
 * throws.
 */

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;

export interface ClientHello {
  /** TLS version of the hello's legacy_version field, e.g. 0x0303. */
  version: number;
  /** The host_name of the server_name extension, lowercase; undefined when the hello has none. */
  serverName: string | undefined;
}

/** A bounds-checked reader: every read past the end throws, and parseClientHello catches. */
class Reader {
  constructor(private readonly b: Buffer, public pos: number, private readonly end: number,
    /** The length field promised more bytes than the capture holds. */
    readonly cut = false) {}
  private need(n: number): void {
    if (this.pos + n > this.end) throw new RangeError('cut');
  }
  u8(): number { this.need(1); return this.b[this.pos++]; }
  u16(): number { this.need(2); const v = this.b.readUInt16BE(this.pos); this.pos += 2; return v; }
  u24(): number { this.need(3); const v = this.b.readUIntBE(this.pos, 3); this.pos += 3; return v; }
  skip(n: number): void { this.need(n); this.pos += n; }
  /** A reader over the next n bytes (cut to what is there), and this one skips them. */
  sub(n: number): Reader { this.need(n); const r = new Reader(this.b, this.pos, this.pos + n); this.pos += n; return r; }
  /** Like sub, but a length beyond the data is allowed (the capture was cut): reads then fail at the cut. */
  subCut(n: number): Reader {
    const r = new Reader(this.b, this.pos, Math.min(this.pos + n, this.end), this.cut || this.pos + n > this.end);
    this.pos += n;
    return r;
  }
  text(n: number): string { this.need(n); const s = this.b.toString('latin1', this.pos, this.pos + n); this.pos += n; return s; }
  get left(): number { return this.end - this.pos; }
}

/** A valid DNS host name as SNI carries it: letters, digits, '-', '_' and dots, no empty label. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$/;

/** Parses a ClientHello at the start of `payload`; undefined if it is not one or is cut too early. */
export function parseClientHello(payload: Buffer): ClientHello | undefined {
  try {
    const rec = new Reader(payload, 0, payload.length);
    if (rec.u8() !== RECORD_HANDSHAKE) return undefined;
    if (rec.u8() !== 3) return undefined;  // record version 3.x
    rec.u8();
    const hs = rec.subCut(rec.u16());
    if (hs.u8() !== HANDSHAKE_CLIENT_HELLO) return undefined;
    const hello = hs.subCut(hs.u24());
    const version = hello.u16();
    hello.skip(32);  // random
    hello.skip(hello.u8());  // legacy_session_id
    hello.skip(hello.u16());  // cipher_suites
    hello.skip(hello.u8());  // legacy_compression_methods
    if (hello.left === 0) return hello.cut ? undefined : { version, serverName: undefined };  // no extensions (TLS 1.0)
    const exts = hello.subCut(hello.u16());
    while (exts.left > 0) {
      const type = exts.u16();
      const len = exts.u16();
      if (type !== EXT_SERVER_NAME) {
        exts.skip(len);
        continue;
      }
      const ext = exts.sub(len);
      const list = ext.sub(ext.u16());
      while (list.left > 0) {
        const nameType = list.u8();
        const name = list.text(list.u16());
        if (nameType !== NAME_TYPE_HOST) continue;
        const host = name.toLowerCase().replace(/\.$/, '');
        return HOST_NAME.test(host) ? { version, serverName: host } : undefined;
      }
      return { version, serverName: undefined };
    }
    // no server_name among the extensions there are; if some were cut off, it may have been there
    return exts.cut ? undefined : { version, serverName: undefined };
  } catch {
    return undefined;  // cut mid-field, or lengths that do not add up
  }
}

/** The SNI host name of a ClientHello payload, or undefined. */
export function serverNameOf(payload: Buffer): string | undefined {
  return parseClientHello(payload)?.serverName;
}
