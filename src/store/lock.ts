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

/** Creates the PID file holding our PID; a write that fails (a full disk) leaves no file behind. */
function writePidFile(file: string): void {
  const fd = fs.openSync(file, 'wx', 0o644);
  try {
    fs.writeSync(fd, `${process.pid}\n`);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw e;
  }
  fs.closeSync(fd);
}

/** The PID file's trouble said the way a user can act on. */
function pidFileError(file: string, e: NodeJS.ErrnoException): FlowlensError {
  const dir = path.dirname(file);
  switch (e.code) {
    case 'ENOSPC': case 'EDQUOT':
      return new FlowlensError('FLOW_ERR_STORE', `cannot write ${file}: the filesystem of ${dir} is full`, 'free space there, or choose another --data-dir');
    case 'EROFS':
      return new FlowlensError('FLOW_ERR_STORE', `cannot write ${file}: the filesystem of ${dir} is read-only`, 'choose a writable --data-dir (or remount it read-write)');
    case 'EISDIR':
      return new FlowlensError('FLOW_ERR_STORE', `${file} is a directory, not flowlens' PID file`, 'remove it (flowlens creates the file itself)');
    case 'EACCES': case 'EPERM':
      return new FlowlensError('FLOW_ERR_STORE', `cannot write ${file}: permission denied`, 'check the data directory\'s permissions, or run flowlens as its owner');
    default:
      return new FlowlensError('FLOW_ERR_STORE', `cannot write ${file}: ${e.code ?? e.message}`, 'check the data directory');
  }
}

export class WriterLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): WriterLock {
    const file = path.join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writePidFile(file);
        return new WriterLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw pidFileError(file, e as NodeJS.ErrnoException);
      }
      let pid: number;
      try {
        pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      } catch (e) {
        throw pidFileError(file, e as NodeJS.ErrnoException);
      }
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
