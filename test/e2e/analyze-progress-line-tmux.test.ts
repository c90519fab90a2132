/**
 * `flowlens analyze` on a real terminal (tmux, stdout to a file so the screen
 * holds only what goes to stderr): while it reads a capture of 300,000 frames
 * it shows one progress line — bytes of the file's size with a percentage,
 * packets, their rate, the time left — redrawn in place (the same row, the
 * numbers growing, nothing scrolled), never wider than the terminal (80
 * columns, and 40, where it is cut), and erased at the end, which leaves only
 * the exit status. With stderr not a terminal it prints no progress at all.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { CLI, cliBuilt } from '../helpers/flowlens-cli.js';
import { analyzeCli } from '../helpers/analyze-cli.js';
import { waitFor } from '../helpers/netns.js';
import { Tmux } from '../helpers/tmux.js';

const FRAMES = 300_000;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-progress-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** A pcap of `n` 60-byte UDP frames, 1000 flows, written in batches (a few MB of memory at most). */
function writeCapture(file: string, n: number): number {
  const fd = openSync(file, 'w');
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  writeSync(fd, header);
  const frame = Buffer.alloc(60);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame.writeUInt16BE(46, 16);
  frame[22] = 64;
  frame[23] = 17;
  Buffer.from([10, 0, 0, 1]).copy(frame, 26);
  Buffer.from([10, 0, 0, 2]).copy(frame, 30);
  frame.writeUInt16BE(26, 38);
  const record = 16 + frame.length, batch = 10_000, buf = Buffer.alloc(record * batch);
  for (let i = 0; i < n; i += batch) {
    const k = Math.min(batch, n - i);
    for (let j = 0; j < k; j++) {
      const o = j * record, us = (i + j) * 10;
      buf.writeUInt32LE(1_700_000_000 + Math.floor(us / 1e6), o);
      buf.writeUInt32LE(us % 1e6, o + 4);
      buf.writeUInt32LE(frame.length, o + 8);
      buf.writeUInt32LE(frame.length, o + 12);
      frame.copy(buf, o + 16);
      buf.writeUInt16BE(1024 + ((i + j) % 1000), o + 16 + 34);
    }
    writeSync(fd, buf, 0, k * record);
  }
  closeSync(fd);
  return 24 + n * record;
}

const PROGRESS = /^capture\.pcap: [\d.]+ [kMG]?B of [\d.]+ [kMG]?B \((\d+)%\), ([\d,]+) packets, [\d,]+\/s, ETA \d+ (s|min)$/;

t.test('a progress line on a terminal: redrawn in place, fits, erased at the end; none off a terminal', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const file = path.join(tmp, 'capture.pcap');
  writeCapture(file, FRAMES);
  const tmux = new Tmux(t);

  for (const width of [80, 40]) {
    await t.test(`${width} columns`, async (t) => {
      const name = `p${width}`;
      const out = path.join(tmp, `${name}.json`);
      // the pane stays open after analyze (a dead pane's notice would be on the screen): its status, then a sleep
      tmux.start(name, width, 12, ['sh', '-c', `env -u NODE_OPTIONS "${process.execPath}" "${CLI}" analyze --format json "${file}" > "${out}"; echo "[done $?]"; exec sleep 600`]);
      const seen: Array<{ row: number; text: string }> = [];
      const done = () => tmux.screen(name).some((l) => l.startsWith('[done '));
      await waitFor(() => {
        const s = tmux.screen(name);
        const row = s.findIndex((l) => l.startsWith('capture.pcap: '));
        if (row >= 0 && seen[seen.length - 1]?.text !== s[row]) seen.push({ row, text: s[row]! });
        return done();
      }, 120_000, 30);
      t.ok(done(), 'analyze finished');
      t.ok(seen.length >= 2, `the line was redrawn (${seen.length} versions seen)`);
      t.ok(seen.every((v) => v.row === seen[0]!.row), 'always on the same row: in place');
      t.ok(seen.every((v) => v.text.length <= width - 1), `never wider than the terminal (widest ${Math.max(...seen.map((v) => v.text.length))})`);
      if (width === 80) {
        const parsed = seen.map((v) => PROGRESS.exec(v.text)).filter((m) => m !== null);
        t.equal(parsed.length, seen.length, `packets, bytes of the size, percentage, rate and ETA: ${seen[0]?.text}`);
        const packets = parsed.map((m) => Number(m[2]!.replace(/,/g, '')));
        t.ok(packets.every((p, i) => i === 0 || p >= packets[i - 1]!), `the count grows: ${packets.join(' ')}`);
        t.ok(packets.every((p) => p <= FRAMES), 'never more than the file holds');
      } else {
        t.ok(seen.some((v) => v.text.endsWith('…')), `cut to fit: ${seen[0]?.text}`);
      }
      const end = tmux.screen(name);
      t.notOk(end.some((l) => l.includes('capture.pcap')), `erased at the end:\n${end.join('\n')}`);
      t.equal(end.filter((l) => l.trim()).join('\n'), '[done 0]', 'only the exit status is left');
      t.equal(tmux.format(name, '#{history_size}'), '0', 'nothing scrolled');
      t.equal(JSON.parse(readFileSync(out, 'utf8')).totals.packets, FRAMES, 'and the analysis is whole');
    });
  }

  const piped = await analyzeCli(['--format', 'json', file], undefined, 120_000);
  t.equal(piped.code, 0, 'off a terminal: exit 0');
  t.notMatch(piped.stderr, /packets|\r/, `no progress when stderr is not a terminal: ${JSON.stringify(piped.stderr)}`);
});
