// Runs inside DynamoDB Local's private network namespace. The local cloud creates the listening socket on
// 127.0.0.1 of the host's namespace and hands it over the IPC channel: a socket stays in the namespace it
// was created in, so this process accepts connections from the host and relays each to DynamoDB Local on
// the namespace's loopback. One hop, off the local cloud's main thread.
// Its stdin is a pipe from the local cloud: when that closes (the local cloud ended, even by SIGKILL),
// it stops the JVM and exits, so nothing is left behind.
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
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
