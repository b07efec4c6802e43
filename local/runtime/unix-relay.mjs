// Runs inside DynamoDB Local's private network namespace: accepts connections on a UNIX socket (the
// file system is shared with the host) and relays each to DynamoDB Local on the namespace's loopback.
// Its stdin is a pipe from the local cloud: when that closes (the local cloud ended, even by SIGKILL),
// it stops the JVM and exits, so nothing is left behind.
import { connect, createServer } from "node:net";

const [socketPath, port, javaPid] = process.argv.slice(2);
createServer((client) => {
  const engine = connect(Number(port), "127.0.0.1");
  client.pipe(engine).pipe(client);
  client.on("error", () => engine.destroy());
  engine.on("error", () => client.destroy());
}).listen(socketPath);

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
