/**
 * The lookup service's access to LeaseTable and ServerTable, shared by its parts (registrations.ts,
 * assignments.ts, fenced-state.ts): strongly consistent reads, the lease read with its holder's
 * registration in one transactional read, transactions, and what this instance has seen (to guess a
 * session's holder before reading its lease). Guesses only: a wrong one costs a second read, never a
 * wrong answer.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, TransactGetCommand } from "@aws-sdk/lib-dynamodb";
import { transact } from "../dynamodb/transactions.ts";
import { fail } from "../errors.ts";
import { LruMap } from "../lru.ts";
import { rendezvous } from "../mesh/hashing.ts";
import type { LeaseConfig, LeaseRecord, ServerRecord } from "./rules.ts";

/**
 * For how many lease durations after the registration expiry it saw an instance still guesses a server
 * may hold sessions (a server that stopped costs at most one wrong guess per session meanwhile).
 */
const GUESS_WINDOW_LEASES = 6;

export interface StoredLease extends LeaseRecord {
  state?: string;
  stateToken?: number;
}

export interface LeaseStoreOptions {
  leaseTable: string;
  serverTable: string;
  config: LeaseConfig;
  now: () => number;
  observeRead?: (requests: number) => void;
  maxHintedSessions?: number;
}

export class LeaseStore {
  readonly documents: DynamoDBDocumentClient;
  readonly leaseTable: string;
  readonly serverTable: string;
  readonly config: LeaseConfig;
  readonly now: () => number;
  private readonly observeRead?: (requests: number) => void;
  /**
   * The holder each session last had here, and the servers with the registration expiry last seen. A
   * server counts as probably live for a while after the expiry this instance saw
   * (`GUESS_WINDOW_LEASES` leases): with many Api instances, each answers only some of a server's
   * heartbeats, and the others renew it meanwhile.
   */
  readonly holderHints: LruMap<string, string>;
  readonly seenServers = new Map<string, number>();

  constructor(documents: DynamoDBDocumentClient, options: LeaseStoreOptions) {
    this.documents = documents;
    this.leaseTable = options.leaseTable;
    this.serverTable = options.serverTable;
    this.config = options.config;
    this.now = options.now;
    this.observeRead = options.observeRead;
    this.holderHints = new LruMap(options.maxHintedSessions ?? 10_000);
  }

  async server(serverId: string): Promise<ServerRecord | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.serverTable, Key: { serverId }, ConsistentRead: true }),
    );
    return Item as ServerRecord | undefined;
  }

  async lease(sessionId: string): Promise<StoredLease | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.leaseTable, Key: { sessionId }, ConsistentRead: true }),
    );
    return Item as StoredLease | undefined;
  }

  /**
   * The lease and its holder's registration as they were at one moment. Read one after the other, a
   * lease that was frozen in between would be seen unfrozen next to a registration renewed after the
   * freeze, and answered with an expiry later than its frozen one. So both are read in one transactional
   * read (TransactGetItems: serializable with every write to them). Which registration to read comes
   * from a guess: the holder this instance last saw for the session, else the rendezvous choice among the
   * servers it saw live lately (where an assignment puts a session). A right guess is one round trip; a
   * wrong one shows the lease's actual holder, whose pair is read next. With no guess, the lease is read
   * first to learn its holder: two round trips.
   */
  async read(sessionId: string, withHolder = true) {
    if (!withHolder) return { lease: await this.lease(sessionId), holder: undefined };
    let requests = 0;
    const answer = <T>(read: T): T => {
      this.observeRead?.(requests);
      return read;
    };
    let serverId = this.guessHolder(sessionId);
    if (!serverId) {
      const lease = await this.lease(sessionId);
      requests++;
      if (!lease?.serverId) return answer({ lease, holder: undefined });
      serverId = lease.serverId;
    }
    for (let attempt = 0; ; attempt++) {
      // A write to one of them under way each time, or a session moving on every read: answer, and retry.
      if (attempt >= 10) throw fail("Contention", `could not read ${sessionId}; retry`, { sessionId });
      const pair = await this.leaseAndServer(sessionId, serverId);
      requests++;
      // A write to one of them was under way: read again (DynamoDB answered nothing).
      if (pair === "conflict") continue;
      if (!pair.lease?.serverId) return answer({ lease: pair.lease, holder: undefined });
      this.holderHints.set(sessionId, pair.lease.serverId);
      if (pair.lease.serverId === serverId) return answer(pair);
      serverId = pair.lease.serverId;
    }
  }

  /** The server this instance expects to hold the session, if it has seen enough to guess. */
  private guessHolder(sessionId: string): string | undefined {
    const hinted = this.holderHints.get(sessionId);
    if (hinted) return hinted;
    const since = this.now() - GUESS_WINDOW_LEASES * this.config.leaseDurationMs;
    const recent = [...this.seenServers].filter(([, expiresAt]) => expiresAt >= since).map(([id]) => id);
    return rendezvous(sessionId, recent);
  }

  private async leaseAndServer(
    sessionId: string,
    serverId: string,
  ): Promise<{ lease?: StoredLease; holder?: ServerRecord } | "conflict"> {
    try {
      const { Responses = [] } = await this.documents.send(
        new TransactGetCommand({
          TransactItems: [
            { Get: { TableName: this.leaseTable, Key: { sessionId } } },
            { Get: { TableName: this.serverTable, Key: { serverId } } },
          ],
        }),
      );
      return {
        lease: Responses[0]?.Item as StoredLease | undefined,
        holder: Responses[1]?.Item as ServerRecord | undefined,
      };
    } catch (error) {
      if (error instanceof TransactionCanceledException) return "conflict";
      throw error;
    }
  }

  /**
   * Commits the actions all or nothing; false when the transaction was cancelled (a condition failed, or
   * a conflicting transaction): every caller then reads again and decides anew.
   */
  async transact(actions: Array<Record<string, unknown>>): Promise<boolean> {
    return (await transact(this.documents, actions)).ok;
  }
}
