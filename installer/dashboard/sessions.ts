import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A login link is good for one use, within this long. */
const TOKEN_TTL_MS = 5 * 60_000;
/** A browser session lasts this long without use. */
const SESSION_IDLE_MS = 12 * 60 * 60_000;

const secret = () => randomBytes(32).toString('base64url');

/** Equal strings, compared in time that does not depend on where they differ. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The dashboard's logins, as Jupyter does them: `berth dashboard` (root, over the control
 * socket) gets a one-time token for the login link; the link trades it for a session
 * cookie (HttpOnly, SameSite=Strict). Nothing is persisted: a restarted backend asks again.
 */
export class Sessions {
  private tokens = new Map<string, number>();
  private sessions = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  newLoginToken(): string {
    const token = secret();
    this.tokens.set(token, this.now() + TOKEN_TTL_MS);
    return token;
  }

  /** Trades a login token for a session id; undefined for an unknown, used or expired token. */
  login(token: string): string | undefined {
    const match = [...this.tokens.keys()].find((t) => same(t, token));
    if (!match) return undefined;
    const expires = this.tokens.get(match)!;
    this.tokens.delete(match); // one use
    if (expires < this.now()) return undefined;
    const id = secret();
    this.sessions.set(id, this.now() + SESSION_IDLE_MS);
    return id;
  }

  /** Whether the cookie's session is live; each use extends it. */
  valid(id: string | undefined): boolean {
    if (!id) return false;
    const match = [...this.sessions.keys()].find((s) => same(s, id));
    if (!match || this.sessions.get(match)! < this.now()) return false;
    this.sessions.set(match, this.now() + SESSION_IDLE_MS);
    return true;
  }
}
