/**
 * A session's state, fenced: stored only from the server that holds a live lease under the fencing token
 * it presents, the write conditioned on the lease item being unchanged since it was read and, for a lease
 * that lives with its registration, on that registration.
 */
import { fail } from "../errors.ts";
import { fenceAccepts, leaseStatus } from "./rules.ts";
import type { LeaseStore } from "./store.ts";

export class FencedState {
  private readonly store: LeaseStore;

  constructor(store: LeaseStore) {
    this.store = store;
  }

  /**
   * Stores the session's state, only from the server that holds a live lease under `fencingToken`: not
   * released, not reassigned, and by this service's clock not past its expiry plus the skew bound (else
   * 409 StaleFencingToken, state unchanged). The write is conditioned on the lease item being unchanged
   * since it was read and, for a lease that lives with its registration, on that registration.
   */
  async write(sessionId: string, serverId: string, fencingToken: number, state: unknown) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { lease, holder } = await this.store.read(sessionId);
      if (!lease) throw fail("SessionNotFound", `${sessionId} has never been assigned`, { sessionId });
      const now = this.store.now();
      const status = leaseStatus(lease, holder, now, this.store.config);
      const live = status.status === "held" && status.fencingToken === fencingToken;
      if (!fenceAccepts(lease, serverId, fencingToken) || !live) {
        const why = !fenceAccepts(lease, serverId, fencingToken)
          ? `is not ${sessionId}'s newest (${lease.fencingToken}, ${lease.serverId})`
          : lease.released
            ? "was released"
            : "has expired";
        throw fail("StaleFencingToken", `token ${fencingToken} of ${serverId} ${why}`, {
          sessionId,
          fencingToken: lease.fencingToken,
        });
      }
      const actions: Array<Record<string, unknown>> = [
        {
          Update: {
            TableName: this.store.leaseTable,
            Key: { sessionId },
            UpdateExpression: "SET #state = :state, stateToken = :token",
            ConditionExpression: "rvn = :rvn",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: {
              ":state": JSON.stringify(state),
              ":token": fencingToken,
              ":rvn": lease.rvn,
            },
          },
        },
      ];
      if (lease.frozenExpiresAt === undefined)
        actions.push({
          ConditionCheck: {
            TableName: this.store.serverTable,
            Key: { serverId },
            ConditionExpression: "epoch = :epoch AND expiresAt >= :cutoff",
            ExpressionAttributeValues: {
              ":epoch": lease.serverEpoch,
              ":cutoff": now - this.store.config.maxSkewMs,
            },
          },
        });
      if (await this.store.transact(actions)) return { sessionId, serverId, fencingToken, state };
      // The lease or the registration changed since it was read: decide again on what they are now.
    }
    throw fail("Contention", `could not store the state of ${sessionId}; retry`, { sessionId });
  }

  async read(sessionId: string) {
    const { lease } = await this.store.read(sessionId, false);
    if (lease?.state === undefined || lease.stateToken === undefined)
      throw fail("StateNotFound", `${sessionId} has no state`, { sessionId });
    return { sessionId, state: JSON.parse(lease.state), fencingToken: lease.stateToken };
  }
}
