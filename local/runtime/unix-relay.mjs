// Runs inside DynamoDB Local's private network namespace: accepts connections on a UNIX socket (the
// file system is shared with the host) and relays each to DynamoDB Local on the namespace's loopback.
import { connect, createServer } from "node:net";

const [socketPath, port] = process.argv.slice(2);
createServer((client) => {
  const engine = connect(Number(port), "127.0.0.1");
  client.pipe(engine).pipe(client);
  client.on("error", () => engine.destroy());
  engine.on("error", () => client.destroy());
}).listen(socketPath);
