/**
 * What the local cloud's HTTP servers (the HTTP API and the Lambda API) do alike: answer a request the
 * parser refused before closing its connection, and stop gracefully, answering every request they read.
 */
import type { Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";

export const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  414: "Request-URI Too Large",
  431: "Request Header Fields Too Large",
};

/**
 * A request the parser refused (headers beyond the server's maxHeaderSize, or malformed) still gets a
 * complete answer: written, then the connection half-closed while what the client still sends is read and
 * dropped. Closing with unread data would reset the connection, and the client would see a reset instead
 * of the answer.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // Only parse errors have an answer; a reset or a timeout has no one to answer.
  if (!socket.writable || !error.code?.startsWith("HPE_")) {
    socket.destroy();
    return;
  }
  const status = error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
  const body = JSON.stringify({ message: STATUS_TEXT[status] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  socket.on("data", () => {});
  socket.resume();
  setTimeout(() => socket.destroy(), 5_000).unref();
}

interface Connection {
  /** Requests read and not yet answered. */
  open: Set<ServerResponse>;
  /** When it last finished an answer (or opened). */
  idleSince: number;
}

/**
 * How long a kept-alive connection must have been idle before a stop closes it. A client in a loop sends
 * its next request within milliseconds of an answer; one idle this long is not about to, so closing it
 * cannot cut a request on its way (HTTP/1.1 cannot rule that out for a connection idle at any moment).
 */
const IDLE_BEFORE_CLOSE_MS = 1_000;

const tracked = new WeakMap<Server, { connections: Map<Socket, Connection>; draining: boolean }>();

/** Tracks a server's connections and requests for closeGracefully, and answers parse errors. */
export function serveGracefully(server: Server): Server {
  const state = { connections: new Map<Socket, Connection>(), draining: false };
  tracked.set(server, state);
  server.on("connection", (socket: Socket) => {
    state.connections.set(socket, { open: new Set(), idleSince: Date.now() });
    socket.once("close", () => state.connections.delete(socket));
  });
  // Before the server's own handler, which may answer at once.
  server.prependListener("request", (request, response) => {
    const connection = state.connections.get(request.socket as Socket);
    if (state.draining) response.shouldKeepAlive = false;
    if (!connection) return;
    connection.open.add(response);
    response.once("close", () => {
      connection.open.delete(response);
      connection.idleSince = Date.now();
    });
  });
  server.on("clientError", answerClientError);
  return server;
}

/**
 * Stops accepting connections and answers every request already read: each answer from now on closes its
 * connection, a request that arrives on a kept-alive connection is still served, and a connection closes
 * once it is idle (IDLE_BEFORE_CLOSE_MS) or has answered. After `maxMs` what is left is cut: callers pass
 * at least the longest a request can take (the HTTP API's integration timeout).
 */
export function closeGracefully(server: Server, maxMs: number): Promise<void> {
  const state = tracked.get(server);
  if (!state) throw new Error("closeGracefully needs a server set up with serveGracefully");
  state.draining = true;
  for (const connection of state.connections.values())
    for (const response of connection.open) if (!response.headersSent) response.shouldKeepAlive = false;
  return new Promise((resolve) => {
    let closed = false;
    // net's close, not http's: http's also closes every idle connection at once, and a request may be on
    // its way on one of them.
    NetServer.prototype.close.call(server, () => {
      closed = true;
      resolve();
    });
    const deadline = Date.now() + maxMs;
    const sweep = () => {
      if (closed) return;
      const now = Date.now();
      for (const [socket, connection] of state.connections) {
        if (now >= deadline) socket.destroy();
        else if (connection.open.size === 0 && now - connection.idleSince >= IDLE_BEFORE_CLOSE_MS)
          socket.end();
      }
      setTimeout(sweep, 50).unref();
    };
    sweep();
  });
}
