/** How often POST /sync may start a cycle: a token bucket. */
export interface SyncRate {
  /** Calls accepted back to back. */
  burst: number;
  /** Calls accepted per minute once the burst is spent. */
  perMinute: number;
}

export const DEFAULT_SYNC_RATE: SyncRate = { burst: 5, perMinute: 10 };

/** Delivery-id headers of GitHub, Gitea/Forgejo (and Gogs) and GitLab. */
const DELIVERY_HEADERS = ['x-github-delivery', 'x-gitea-delivery', 'x-gogs-delivery', 'x-gitlab-event-uuid'];

/** Remembered delivery ids; the oldest is forgotten first. */
const REMEMBERED = 1000;

/**
 * Decides whether an authenticated webhook call starts a cycle: a delivery id seen before is a
 * replay (or the forge's redelivery of one already handled) and is dropped; otherwise a token
 * bucket bounds how often cycles are started.
 */
export class SyncGate {
  private tokens: number;
  private last: number;
  private readonly seen = new Set<string>();

  constructor(
    private readonly rate: SyncRate,
    private readonly clock: () => number,
  ) {
    this.tokens = rate.burst;
    this.last = clock();
  }

  /** `accept`, `duplicate` (delivery id seen before) or `limited` (too many calls). */
  admit(headers: Readonly<Record<string, string | string[] | undefined>>): 'accept' | 'duplicate' | 'limited' {
    const id = deliveryId(headers);
    if (id !== undefined && this.seen.has(id)) return 'duplicate';
    const t = this.clock();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((t - this.last) / 60_000) * this.rate.perMinute);
    this.last = t;
    if (this.tokens < 1) return 'limited';
    this.tokens -= 1;
    if (id !== undefined) {
      this.seen.add(id);
      if (this.seen.size > REMEMBERED) this.seen.delete(this.seen.values().next().value as string);
    }
    return 'accept';
  }

  /** Seconds until the next call would be accepted. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((1 - this.tokens) * 60) / this.rate.perMinute));
  }
}

function deliveryId(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  for (const name of DELIVERY_HEADERS) {
    const v = headers[name];
    const value = Array.isArray(v) ? v[0] : v;
    if (value !== undefined && value !== '') return `${name}:${value}`;
  }
  return undefined;
}
