/**
 * Access tokens for the APIs. The tokens file holds one token per line, after
 * its role: `read TOKEN` (every query and stream) or `admin TOKEN` (also the
 * calls that change something); `#` starts a comment. Tokens are compared as
 * SHA-256 digests in constant time and kept only as digests, so no token text
 * stays in memory to leak into a log or an error message.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FlowlensError } from '../errors.js';

export type Role = 'read' | 'admin';

/** What a request may do: none (no or a wrong token), read, or admin. */
export type Access = 'none' | Role;

/** Tokens shorter than this are guesses waiting to happen. */
const MIN_TOKEN_LENGTH = 16;

const digest = (token: string) => createHash('sha256').update(token).digest();

export class TokenSet {
  private constructor(private readonly entries: Array<{ digest: Buffer; role: Role }>) {}

  /** No tokens: every caller may do everything (only allowed on loopback, see config). */
  static open(): TokenSet {
    return new TokenSet([]);
  }

  static fromText(text: string, where: string): TokenSet {
    const entries: Array<{ digest: Buffer; role: Role }> = [];
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (!line) return;
      const m = /^(read|admin)\s+(\S+)$/.exec(line);
      // the line may hold a token: name the line, never echo it
      if (!m) throw new FlowlensError('FLOW_ERR_USAGE', `${where}:${i + 1}: a line must be "read TOKEN" or "admin TOKEN"`);
      if (m[2]!.length < MIN_TOKEN_LENGTH) throw new FlowlensError('FLOW_ERR_USAGE', `${where}:${i + 1}: the token is shorter than ${MIN_TOKEN_LENGTH} characters`, 'make one with: openssl rand -hex 24');
      entries.push({ digest: digest(m[2]!), role: m[1] as Role });
    });
    if (!entries.length) throw new FlowlensError('FLOW_ERR_USAGE', `${where} holds no token`, 'add a line "admin TOKEN" or "read TOKEN" (openssl rand -hex 24 makes a token)');
    return new TokenSet(entries);
  }

  static fromFile(file: string): TokenSet {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new FlowlensError('FLOW_ERR_USAGE', `cannot read the tokens file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check api.tokensFile (--tokens-file) and its permissions');
    }
    return TokenSet.fromText(text, file);
  }

  /** True when callers need a token. */
  get required(): boolean {
    return this.entries.length > 0;
  }

  /** The access an Authorization value ("Bearer TOKEN") grants. */
  check(authorization: string | undefined): Access {
    if (!this.required) return 'admin';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return 'none';
    const d = digest(m[1]!);
    let access: Access = 'none';
    for (const e of this.entries) {
      // look at every entry: the time taken does not tell which one matched
      if (timingSafeEqual(e.digest, d) && access !== 'admin') access = e.role;
    }
    return access;
  }
}

/** Whether access is enough for a call that needs `need`. */
export function allows(access: Access, need: Role): boolean {
  return access === 'admin' || (access === 'read' && need === 'read');
}
