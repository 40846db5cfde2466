/**
 * One sequencer among several servers of a log. Each server runs a
 * Leadership over its ledger: it tries to take the sequencer lease, and
 * while it holds it, renews it and sequences appends; otherwise it follows
 * the store and refuses appends with NotSequencerError, naming the
 * sequencer's URL when it is known.
 *
 * Timing only decides how fast a new sequencer takes over. Safety does not
 * depend on it: every commit checks the epoch of the lease it was granted
 * (PostgresStore.setFence), and the head row's compare-and-swap lets one
 * commit per tree size through.
 */
import type { Logger } from 'pino';
import { StorageError } from './errors.js';
import type { Ledger } from './ledger.js';
import type { LeaseGrant } from './store/postgres.js';
import type { LeaseState } from './store/postgres-lease.js';

/** An append sent to a server that does not sequence the log. */
export class NotSequencerError extends StorageError {
  constructor(readonly leaderUrl: string | undefined) {
    super(
      'not_sequencer',
      leaderUrl
        ? `this server does not sequence appends: send them to ${leaderUrl}`
        : 'no server sequences appends right now: retry in a few seconds',
    );
  }
}

/** The lease operations a Leadership uses (PostgresLease implements them). */
export interface SequencerLease {
  readonly ttlMs: number;
  acquire(): Promise<LeaseGrant | undefined>;
  renew(grant: LeaseGrant): Promise<boolean>;
  release(grant: LeaseGrant): Promise<void>;
  read(): Promise<LeaseState>;
  close(): Promise<void>;
}

export interface LeadershipOptions {
  /** How often the lease is renewed, or sought by a follower, in ms (default 1000). */
  renewMs?: number;
  /** How often a follower reads the newest checkpoint from the store, in ms (default 250). */
  refreshMs?: number;
  logger?: Logger;
}

export class Leadership {
  private grant: LeaseGrant | undefined;
  /** When the last successful renewal (or the grant) was sent, in ms. */
  private renewedMs = 0;
  private timers: NodeJS.Timeout[] = [];
  private ticking: Promise<void> | undefined;
  private readonly renewMs: number;
  private readonly refreshMs: number;

  /**
   * @param fence called with each new grant before the ledger sequences under it
   *   (PostgresStore.setFence), so that its commits check the grant.
   */
  constructor(
    private readonly ledger: Ledger,
    private readonly lease: SequencerLease,
    private readonly fence: (grant: LeaseGrant) => void,
    private readonly options: LeadershipOptions = {},
  ) {
    this.renewMs = options.renewMs ?? 1000;
    this.refreshMs = options.refreshMs ?? 250;
    if (!(this.renewMs > 0 && this.renewMs * 2 <= lease.ttlMs)) {
      throw new RangeError(
        `renewMs ${this.renewMs} must be positive and at most half the lease ttl ${lease.ttlMs}`,
      );
    }
  }

  /** Whether this process holds the lease. */
  get leading(): boolean {
    return this.grant !== undefined;
  }

  /** Tries for the lease once, then keeps renewing or seeking it in the background. */
  async start(): Promise<void> {
    await this.tick();
    this.timers.push(setInterval(() => this.schedule(), this.renewMs));
    this.timers.push(setInterval(() => this.refresh(), this.refreshMs));
  }

  private schedule(): void {
    if (this.ticking) return;
    this.ticking = this.tick()
      .catch((err) => this.options.logger?.error({ err }, 'sequencer lease check failed'))
      .finally(() => {
        this.ticking = undefined;
      });
  }

  private refresh(): void {
    this.ledger.refresh(true).catch((err) => {
      this.options.logger?.warn({ err }, 'reading the newest checkpoint failed');
    });
  }

  private async tick(): Promise<void> {
    if (this.grant) await this.keep(this.grant);
    else await this.seek();
  }

  /** Takes the lease if it is free, else follows the process that holds it. */
  private async seek(): Promise<void> {
    const sent = Date.now();
    const grant = await this.lease.acquire();
    if (!grant) {
      const state = await this.lease.read();
      await this.ledger.follow(state.live ? state.url : undefined);
      return;
    }
    this.fence(grant);
    this.grant = grant;
    this.renewedMs = sent;
    try {
      await this.ledger.lead();
    } catch (err) {
      await this.stepDown('loading the tree failed');
      throw err;
    }
    const size = this.ledger.latestCheckpoint()?.size;
    this.options.logger?.info({ epoch: grant.epoch, tree_size: size }, 'sequencing');
  }

  /**
   * Renews the lease. A failed renewal is retried on the next tick until the
   * lease may have expired, then this process stops sequencing.
   */
  private async keep(grant: LeaseGrant): Promise<void> {
    const sent = Date.now();
    let held: boolean;
    try {
      held = await this.lease.renew(grant);
    } catch (err) {
      const deadline = this.renewedMs + this.lease.ttlMs - this.renewMs;
      this.options.logger?.warn({ err, epoch: grant.epoch }, 'sequencer lease renewal failed');
      if (Date.now() < deadline) return;
      held = false;
    }
    if (held) {
      this.renewedMs = sent;
      return;
    }
    await this.stepDown('lease lost');
  }

  /**
   * Stops sequencing. The fence keeps the old grant, so a batch still in
   * flight fails at commit instead of landing after a takeover.
   */
  private async stepDown(reason: string): Promise<void> {
    const epoch = this.grant?.epoch;
    this.grant = undefined;
    await this.ledger.follow(undefined);
    this.options.logger?.warn({ epoch, reason }, 'stopped sequencing');
  }

  /** Stops the timers, finishes the batch in flight and hands the lease over at once. */
  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await this.ticking;
    const grant = this.grant;
    this.grant = undefined;
    await this.ledger.follow(undefined);
    if (grant) {
      await this.lease.release(grant).catch((err) => {
        this.options.logger?.warn({ err }, 'releasing the sequencer lease failed');
      });
    }
    await this.lease.close();
  }
}
