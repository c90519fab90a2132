/**
 * The SNI parser reads the server name from a ClientHello at the start of a
 * captured TCP payload. A hello cut before its server_name extension is whole
 * gives undefined, never a wrong or partial name; garbage never throws.
 */
import t from 'tap';
import { parseClientHello, serverNameOf } from '../../src/enrich/sni.js';
import { clientHello } from '../helpers/dns-messages.js';
import { garbage } from '../helpers/packets.js';

t.test('a ClientHello, byte by byte: record, handshake, fixed fields, extensions', async (t) => {
  const hello = clientHello({ serverName: 'Shop.Example.COM' });
  // 5 record header + 4 handshake header + 2 version + 32 random + 1 + 32 session id
  // + 2 + 4 cipher suites + 2 compression + 2 extensions length
  // + 7 supported_versions + 4 + 2 + 1 + 2 + 16 server_name
  t.equal(hello.length, 5 + 4 + 2 + 32 + 33 + 6 + 2 + 2 + 7 + 25);
  t.strictSame([...hello.subarray(0, 6)], [0x16, 0x03, 0x01, 0x00, hello.length - 5, 0x01]);
  t.strictSame(parseClientHello(hello), { version: 0x0303, serverName: 'shop.example.com' });
  t.equal(serverNameOf(hello), 'shop.example.com');
});

t.test('a hello without server_name (a connection to an address) has no name, and is not a failure', async (t) => {
  t.strictSame(parseClientHello(clientHello()), { version: 0x0303, serverName: undefined });
});

t.test('cut at every length: undefined until the server_name extension is whole, then the name', async (t) => {
  const hello = clientHello({ serverName: 'cdn.example.org', padBefore: 300 });
  const nameEnd = hello.length; // the server_name extension is the last one
  for (let n = 0; n < hello.length; n++) {
    t.equal(parseClientHello(hello.subarray(0, n)), undefined, `${n} of ${nameEnd} bytes: undefined`);
  }
  t.equal(serverNameOf(hello), 'cdn.example.org', 'whole: the name');
  t.equal(serverNameOf(Buffer.concat([hello, Buffer.alloc(20)])), 'cdn.example.org', 'bytes after the record do not matter');
});

t.test('not a ClientHello: other records, other handshakes, wrong version, bad lengths, bad names', async (t) => {
  const hello = clientHello({ serverName: 'a.test' });
  const with_ = (at: number, v: number) => { const b = Buffer.from(hello); b[at] = v; return b; };
  t.equal(parseClientHello(with_(0, 0x17)), undefined, 'application data record');
  t.equal(parseClientHello(with_(1, 0x02)), undefined, 'record version 2.x');
  t.equal(parseClientHello(with_(5, 0x02)), undefined, 'ServerHello');
  // server_name list length larger than its extension
  const nameExt = hello.length - 15; // 00 00 | ext len (2) | list len (2) | type (1) | name len (2) | 'a.test'
  t.strictSame([...hello.subarray(nameExt, nameExt + 2)], [0, 0], 'found the server_name extension');
  t.equal(parseClientHello(with_(nameExt + 5, 0x40)), undefined, 'list longer than its extension');
  t.equal(parseClientHello(with_(hello.length - 3, 0x00)), undefined, 'a NUL inside the name');
  t.equal(parseClientHello(with_(hello.length - 4, 0x2e)), undefined, 'an empty label (a..est)');
  t.equal(serverNameOf(clientHello({ serverName: 'host.test.' })), 'host.test', 'a trailing dot is dropped');
});

t.test('random bytes never throw', async (t) => {
  for (let seed = 1; seed <= 3000; seed++) {
    const b = garbage(1 + (seed % 520), seed);
    if (seed % 2 === 0 && b.length > 6) { b[0] = 0x16; b[1] = 0x03; b[5] = 0x01; } // passes the BPF program's check
    try {
      parseClientHello(b);
    } catch (e) {
      t.fail(`seed ${seed}: threw ${(e as Error).message}`);
    }
  }
  t.pass('3000 random payloads, none threw');
});
