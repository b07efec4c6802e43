// Runs inside DynamoDB Local's private network namespace. The local cloud creates the listening socket on
// 127.0.0.1 of the host's namespace and hands it over the IPC channel: a socket stays in the namespace it
// was created in, so this process accepts connections from the host and relays each to DynamoDB Local on
// the namespace's loopback. One hop, off the local cloud's main thread.
// Its stdin is a pipe from the local cloud: when that closes (the local cloud ended, even by SIGKILL),
// it stops the JVM and exits, so nothing is left behind.
import { readFileSync } from "node:fs";
import { connect } from "node:net";

const [port, javaPid] = process.argv.slice(2);
process.on("message", (message, server) => {
  if (message !== "listen" || !server) return;
  server.on("connection", (client) => {
    const engine = connect(Number(port), "127.0.0.1");
    client.setNoDelay(true);
    engine.setNoDelay(true);
    client.pipe(engine).pipe(client);
    client.on("error", () => engine.destroy());
    engine.on("error", () => client.destroy());
  });
  process.send?.("listening");
});

const stop = () => {
  try {
    process.kill(Number(javaPid), "SIGKILL");
  } catch {
    // Already gone.
  }
  process.exit(0);
};
// The JVM is this process's child (the shell that started both became this process): when it dies (a
// crash at start-up, say), the relay ends too, so the local cloud sees the engine gone at once rather
// than connections reset until a timeout. An exited child it does not reap stays a zombie ("Z").
const watch = setInterval(() => {
  let state;
  try {
    state = readFileSync(`/proc/${javaPid}/stat`, "utf8").split(") ").at(-1)?.[0];
  } catch {
    state = undefined;
  }
  if (state === undefined || state === "Z") process.exit(1);
}, 200);
watch.unref();
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
