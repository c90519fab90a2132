/**
 * One writer per data directory. Two `flowlens run` writing one store would
 * each rewrite the current hour's talkers from their own memory, so the second
 * is refused: it finds the first one's PID in flowlens.pid. A PID file left by
 * a process that is gone (kill -9, a crash) is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FlowlensError } from '../errors.js';

const LOCK_FILE = 'flowlens.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class WriterLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): WriterLock {
    const file = path.join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
        return new WriterLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new FlowlensError('FLOW_ERR_STORE', `cannot create ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the data directory\'s permissions');
        }
      }
      const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new FlowlensError('FLOW_ERR_STORE', `another flowlens (PID ${pid}) writes the history in ${dataDir}`,
          'give each flowlens its own --data-dir, or count several interfaces in one flowlens (--iface eth0,eth1)');
      }
      fs.rmSync(file, { force: true }); // stale: its writer is gone
    }
    throw new FlowlensError('FLOW_ERR_STORE', `cannot take ${file}: another process keeps creating it`);
  }

  release(): void {
    try {
      if (Number.parseInt(fs.readFileSync(this.file, 'utf8'), 10) === process.pid) fs.rmSync(this.file, { force: true });
    } catch { /* already gone */ }
  }
}
