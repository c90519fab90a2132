/**
 * An error no request should meet (a bug, a database that fails): the caller
 * gets a generic message with an id, never the internal text (SQL, paths,
 * stack); the server's log gets the id with the details, so an operator can
 * find the one a user reports.
 */
import { randomBytes } from 'node:crypto';

export type Log = (line: string) => void;

const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

/** Logs `e` under a new id and returns the message to send instead. */
export function internalError(e: unknown, where: string, log: Log = stderrLog): string {
  const id = randomBytes(6).toString('hex');
  const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
  log(`flowlens: internal error ${id} in ${where}: ${detail}`);
  return `internal error (id ${id}); the server's log has the details`;
}
