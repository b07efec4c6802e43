/**
 * The demo stack's console panels (a plug-in of the local cloud's console, registered in cdk.json under
 * `localCloud:consolePlugins`): the protocols as they run.
 *
 * - Paxos: each acceptor's promised and accepted ballot, value and version for a key; faulted replicas;
 * - replication: each replica's version of a KV key (lag = replicas behind the primary), the outbox
 *   records not yet expired, the change counter and the quarantine;
 * - leases: servers with their registration expiry, sessions per server with fencing tokens and expiry;
 * - mesh: a client's slot subset of the live servers.
 *
 * The stack is recognised by its functions' environment variables. Everything is read from the engines;
 * the only write is the mesh slot map (brought up to date with the live servers, as GET /servers does).
 */

import {
  type LeaseRecord,
  leaseExpiry,
  type ServerRecord,
  SlotStore,
} from "@serverless-coordination/core/leases";
import { slotSubset } from "@serverless-coordination/core/mesh";
import { paxosItemKey } from "@serverless-coordination/core/paxos";
import { kvItemKey } from "@serverless-coordination/core/replication";
import type { ConsoleContext, ConsolePlugin } from "@serverless-coordination/local-cloud/console";

/** At most this many keys are listed per panel (the page stays fast with thousands in the tables). */
const KEY_LIST_LIMIT = 200;

export default function demoPanels({ functions, read }: ConsoleContext): ConsolePlugin {
  const envOf = (name: string) =>
    functions.find((fn) => fn.environmentVariables[name])?.environmentVariables ?? {};
  const api = envOf("LEASE_TABLE");
  const relay = envOf("QUARANTINE_TABLE");
  const order = (api.REPLICA_IDS ?? "").split(",");
  const stackReplicas = functions
    .filter((fn) => fn.environmentVariables.REPLICA_ID && fn.environmentVariables.REPLICA_TABLE)
    .map((fn) => ({
      id: fn.environmentVariables.REPLICA_ID!,
      table: fn.environmentVariables.REPLICA_TABLE!,
      fn,
    }))
    .sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id) || a.id.localeCompare(b.id));

  async function paxos(key: string) {
    const keys = stackReplicas[0] ? await read.keysWithPrefix(stackReplicas[0].table, "paxos#") : [];
    const acceptors = await Promise.all(
      stackReplicas.map(async (replica) => {
        const item = key ? await read.get(replica.table, paxosItemKey(key)) : undefined;
        const state = item?.acceptedState
          ? (JSON.parse(String(item.acceptedState)) as Record<string, unknown>)
          : undefined;
        return {
          replica: replica.id,
          fault: replica.fn.getFault(),
          promised: item?.promised ?? null,
          acceptedBallot: item?.acceptedBallot ?? null,
          version: state?.version ?? null,
          value: state?.value ?? null,
        };
      }),
    );
    return { key, keys, acceptors };
  }

  async function replication(key: string) {
    const keys = stackReplicas[0] ? await read.keysWithPrefix(stackReplicas[0].table, "kv#") : [];
    const versions = await Promise.all(
      stackReplicas.map(async (replica) => {
        const item = key ? await read.get(replica.table, kvItemKey(key)) : undefined;
        return {
          replica: replica.id,
          fault: replica.fn.getFault(),
          version: (item?.version as string | undefined) ?? null,
          value: item?.value === undefined ? null : JSON.parse(String(item.value)),
        };
      }),
    );
    const primary = versions[0]?.version ?? null;
    // A version is a hybrid logical clock: its first 15 digits are the write's milliseconds.
    const millis = (version: string | null) => (version === null ? 0 : Number(version.slice(0, 15)));
    const withLag = versions.map((replica) => ({
      ...replica,
      lagMs: primary === null || replica.version === primary ? 0 : millis(primary) - millis(replica.version),
    }));
    const behind = withLag.filter(
      (replica) => replica.lagMs > 0 || (primary !== null && replica.version === null),
    );
    const outboxTable = stackReplicas[0]?.fn.environmentVariables.OUTBOX_TABLE;
    const [outbox, changes, quarantined] = await Promise.all([
      outboxTable && key ? read.count(outboxTable, key) : Promise.resolve(null),
      api.CHANGE_COUNTER_TABLE && key
        ? read.get(api.CHANGE_COUNTER_TABLE, { pk: key }).then((item) => Number(item?.changes ?? 0))
        : Promise.resolve(null),
      relay.QUARANTINE_TABLE ? read.count(relay.QUARANTINE_TABLE) : Promise.resolve(null),
    ]);
    return {
      key,
      keys,
      primaryVersion: primary,
      replicas: withLag,
      behind: behind.map((replica) => replica.replica),
      outboxRecords: outbox,
      changes,
      quarantined,
    };
  }

  async function leases() {
    const now = Date.now();
    if (!api.SERVER_TABLE || !api.LEASE_TABLE) return { servers: [], unassigned: 0 };
    const [servers, leases] = await Promise.all([
      read.scan<ServerRecord>(api.SERVER_TABLE),
      read.scan<LeaseRecord>(api.LEASE_TABLE),
    ]);
    const registered = servers.filter((server) => typeof server.epoch === "string");
    const byId = new Map(registered.map((server) => [server.serverId, server]));
    const sessions = new Map<string, Array<Record<string, unknown>>>();
    let unassigned = 0;
    for (const lease of leases) {
      const expiresAt = leaseExpiry(lease, byId.get(lease.serverId ?? ""));
      if (expiresAt === undefined || expiresAt < now) {
        unassigned++;
        continue;
      }
      const list = sessions.get(lease.serverId!) ?? [];
      list.push({
        sessionId: lease.sessionId,
        fencingToken: lease.fencingToken,
        leaseExpiresAt: expiresAt,
        movingTo: lease.movingTo ?? null,
      });
      sessions.set(lease.serverId!, list);
    }
    return {
      servers: registered
        .sort((a, b) => a.serverId.localeCompare(b.serverId))
        .map((server) => ({
          serverId: server.serverId,
          epoch: server.epoch,
          expiresAt: server.expiresAt,
          live: server.expiresAt > now,
          sessions: (sessions.get(server.serverId) ?? []).slice(0, KEY_LIST_LIMIT),
          sessionCount: sessions.get(server.serverId)?.length ?? 0,
        })),
      unassigned,
    };
  }

  async function mesh(live: Array<{ serverId: string }>, query: URLSearchParams) {
    const clientId = Number(query.get("client") ?? 0);
    const size = Math.max(1, Number(query.get("size") ?? 3));
    const clients = Math.max(1, Number(query.get("clients") ?? 100));
    if (!api.SERVER_TABLE || live.length === 0 || !(clientId >= 0 && clientId < clients))
      return { clientId, size, clients, backends: [] as string[] };
    const slots = await new SlotStore(read.documents, api.SERVER_TABLE).slotsFor(live.map((s) => s.serverId));
    const slotted = live.map((server) => ({ serverId: server.serverId, slot: slots.get(server.serverId)! }));
    return { clientId, size, clients, backends: slotSubset(slotted, clientId, clients, size) };
  }

  return {
    id: "coordination",
    script: new URL("./panels.js", import.meta.url),
    inputs: [
      { name: "paxos", label: "Paxos key", placeholder: "config" },
      { name: "kv", label: "KV key", placeholder: "cart-7" },
      { name: "client", label: "mesh client", value: "0", small: true },
      { name: "size", label: "subset", value: "3", small: true },
      { name: "clients", label: "of clients", value: "100", small: true },
    ],
    panels: [
      { id: "paxos", title: "Paxos acceptors" },
      { id: "replication", title: "Outbox and replication" },
      { id: "leases", title: "Leases" },
      { id: "mesh", title: "Mesh" },
    ],
    async state(query) {
      const [paxosState, replicationState, leasesState] = await Promise.all([
        paxos(query.get("paxos") ?? ""),
        replication(query.get("kv") ?? ""),
        leases(),
      ]);
      const live = leasesState.servers.filter((server) => server.live);
      return {
        paxos: paxosState,
        replication: replicationState,
        leases: leasesState,
        mesh: await mesh(live, query),
      };
    },
  };
}
