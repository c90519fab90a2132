/**
 * One writer per data directory. Two `flowlens run` writing one store would
 * each rewrite the current hour's talkers from their own memory, so the second
 * is refused: it finds the first one's PID in flowlens.pid. A PID file left by
 * a process that is gone (kill -9, a crash) is taken over.
 *
 * "Gone" is not "that PID is free": after a reboot that follows a crash, the
 * PID in the file may belong to anything (PID 1, a daemon). So the file holds
 * the writer's identity too, on a second line: the boot (boot_id) and the
 * process's start time (/proc/PID/stat), which together no other process
 * shares. A PID file without it (written by an older flowlens) counts as held
 * only while that PID runs something named flowlens.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FlowlensError } from '../errors.js';

const LOCK_FILE = 'flowlens.pid';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

/** This boot and a process's start time (clock ticks after boot): unique to one process. */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the name in parentheses may hold spaces and parentheses: the fields start after the last ')'
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return `boot ${fs.readFileSync(BOOT_ID, 'utf8').trim()} start ${start}`;
  } catch {
    return undefined;
  }
}

/** Whether the process in a PID file is the writer that wrote it (not a PID reused since). */
function isWriter(pid: number, identity: string | undefined): boolean {
  if (!alive(pid)) return false;
  if (identity) return processIdentity(pid) === identity;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('flowlens');
  } catch {
    return true; // no /proc to look at: as before, alive is held
  }
}

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
    fs.writeSync(fd, `${process.pid}\n${processIdentity(process.pid) ?? ''}\n`);
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
      let first: string | undefined, second: string | undefined;
      try {
        [first, second] = fs.readFileSync(file, 'utf8').split('\n');
      } catch (e) {
        throw pidFileError(file, e as NodeJS.ErrnoException);
      }
      const pid = Number.parseInt(first ?? '', 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isWriter(pid, second?.trim() || undefined)) {
        throw new FlowlensError('FLOW_ERR_STORE', `another flowlens (PID ${pid}) writes the history in ${dataDir}`,
          'give each flowlens its own --data-dir, or count several interfaces in one flowlens (--iface eth0,eth1)');
      }
      // stale: its writer is gone (the PID may run something else now)
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        process.stderr.write(`flowlens: taking over ${file}: the flowlens of PID ${pid} that wrote it is gone${alive(pid) ? ` (PID ${pid} is another program now)` : ''}\n`);
      }
      fs.rmSync(file, { force: true });
    }
    throw new FlowlensError('FLOW_ERR_STORE', `cannot take ${file}: another process keeps creating it`);
  }

  release(): void {
    try {
      if (Number.parseInt(fs.readFileSync(this.file, 'utf8'), 10) === process.pid) fs.rmSync(this.file, { force: true });
    } catch { /* already gone */ }
  }
}
