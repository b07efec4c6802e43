/**
 * The local cloud's command line (`local-cloud`, and the demo's `npm start`): every option, read and checked before anything starts. A bad option is one
 * line on stderr and exit status 2 (as for every command of the project), before any engine starts.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export const USAGE = `usage: local-cloud [options]        (npx @serverless-coordination/local-cloud [options])

Runs a CDK app's Lambda functions (Node.js, Python, custom runtimes), API Gateway HTTP, REST and
WebSocket APIs, DynamoDB tables and streams, SQS queues and SNS topics on this machine: no Docker, no AWS
account. Without --app or --assembly it runs the CDK app in the current directory (the one whose
cdk.json is there).

options:
  -h, --help                 print this and exit
  --app DIR                  run the CDK app in DIR (synthesized with its own cdk.json; default: .)
  --assembly DIR             run a cloud assembly already synthesized (a cdk.out directory); never written to
  --stack NAME               the stack to run when the app or assembly has several
  -c, --context KEY=VALUE    CDK context for the app's synthesis (repeatable), e.g. -c leaseDurationMs=3000
  --in-memory                keep no data: DynamoDB Local in memory
  --data-dir DIR             where the local cloud keeps its data (DynamoDB Local's files, its work files);
                             default: .local beside the app's cdk.json, or in the current directory
                             (--assembly)
  --port N                   HTTP API port (default 3000, or PORT)
  --lambda-port N            Lambda API port (default 3001, or LAMBDA_PORT)
  --dynamodb-port N          DynamoDB Local port (default 8000, or DYNAMODB_PORT)
  --sqs-port N               SQS endpoint port (default 9324, or SQS_PORT)
  --concurrency N            execution environments per function, 1 to 64 (default 4; a function's
                             reserved concurrency in the template still caps it)
  --quiet                    do not print the functions' own log lines
  --watch                    on a source change, synthesize again and give the functions whose code
                             changed their new code (engines, tables, queues and data stay)
  --inspect FUNCTION         run FUNCTION (its id, logical id or name) in one environment with the
                             inspector on, for a debugger to attach (no timeout cuts a paused invocation)
  --inspect-port N           the inspector's port (default 9229)

environment:
  PORT, LAMBDA_PORT, DYNAMODB_PORT, SQS_PORT   the ports' defaults (an option wins)
  LOCAL_CLOUD_PYTHON                           the Python that runs Python functions (default: python3)

exit status: 0 after SIGTERM, 130 after Ctrl-C (SIGINT), 2 for a bad option, 1 for a start that failed`;

export interface StartOptions {
  app?: string;
  assembly?: string;
  stack?: string;
  context: Record<string, string>;
  inMemory: boolean;
  /** Absolute. */
  dataDir: string;
  ports: { http: number; lambda: number; dynamodb: number; sqs: number };
  concurrency: number;
  quiet: boolean;
  watch: boolean;
  inspect?: { fn: string; port: number };
}

export type ParsedStart =
  | { kind: "help" }
  | { kind: "error"; message: string }
  | { kind: "options"; options: StartOptions };

/** Reads `argv` (without node and the script). */
export function parseStartArgs(
  argv: string[],
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): ParsedStart {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        app: { type: "string" },
        assembly: { type: "string" },
        stack: { type: "string" },
        context: { type: "string", short: "c", multiple: true, default: [] },
        "in-memory": { type: "boolean", default: false },
        "data-dir": { type: "string" },
        port: { type: "string" },
        "lambda-port": { type: "string" },
        "dynamodb-port": { type: "string" },
        "sqs-port": { type: "string" },
        concurrency: { type: "string", default: "4" },
        quiet: { type: "boolean", default: false },
        watch: { type: "boolean", default: false },
        inspect: { type: "string" },
        "inspect-port": { type: "string" },
      },
    }));
  } catch (error) {
    // Node's messages name the option and say what is wrong; the hint says where the list is.
    return { kind: "error", message: `${(error as Error).message.split("\n")[0]} (see --help)` };
  }
  if (values.help) return { kind: "help" };
  const fail = (message: string): ParsedStart => ({ kind: "error", message });
  const assembly = values.assembly as string | undefined;
  if (values.app !== undefined && assembly !== undefined)
    return fail("--app and --assembly exclude each other: pass one");
  const app = assembly === undefined ? ((values.app as string | undefined) ?? ".") : undefined;
  for (const [name, value] of [
    ["--app", app],
    ["--assembly", assembly],
    ["--stack", values.stack],
    ["--data-dir", values["data-dir"]],
  ] as const)
    if (value === "") return fail(`${name} takes a non-empty value`);
  const pairs = values.context as string[];
  const context: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at < 1) return fail(`--context takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (assembly !== undefined && pairs.length > 0)
    return fail("--context applies to an app's synthesis; an --assembly is already synthesized");
  const ports = {} as StartOptions["ports"];
  for (const [key, option, variable, fallback] of [
    ["http", "port", "PORT", "3000"],
    ["lambda", "lambda-port", "LAMBDA_PORT", "3001"],
    ["dynamodb", "dynamodb-port", "DYNAMODB_PORT", "8000"],
    ["sqs", "sqs-port", "SQS_PORT", "9324"],
  ] as const) {
    const given = values[option] as string | undefined;
    const text = given ?? env[variable] ?? fallback;
    const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
    if (!(port >= 1 && port <= 65_535))
      return fail(
        `${given !== undefined ? `--${option}` : variable} takes a port from 1 to 65535, got ${JSON.stringify(text)}`,
      );
    ports[key] = port;
  }
  const taken = Object.values(ports).find((port, index, all) => all.indexOf(port) !== index);
  if (taken !== undefined) return fail(`port ${taken} is given twice: each endpoint needs a port of its own`);
  const concurrencyText = values.concurrency as string;
  const concurrency = /^\d{1,2}$/.test(concurrencyText) ? Number(concurrencyText) : Number.NaN;
  if (!(concurrency >= 1 && concurrency <= 64))
    return fail(`--concurrency takes a whole number from 1 to 64, got ${JSON.stringify(concurrencyText)}`);
  const inspectText = values["inspect-port"] as string | undefined;
  if (inspectText !== undefined && values.inspect === undefined)
    return fail("--inspect-port goes with --inspect FUNCTION");
  const inspectPort = /^\d{1,5}$/.test(inspectText ?? "9229") ? Number(inspectText ?? "9229") : Number.NaN;
  if (!(inspectPort >= 1 && inspectPort <= 65_535))
    return fail(`--inspect-port takes a port from 1 to 65535, got ${JSON.stringify(inspectText)}`);
  if (Object.values(ports).includes(inspectPort) && values.inspect !== undefined)
    return fail(`port ${inspectPort} is given twice: each endpoint needs a port of its own`);
  if (values.inspect === "") return fail("--inspect takes a function's id, logical id or name");
  const dataDir = values["data-dir"] as string | undefined;
  return {
    kind: "options",
    options: {
      app: app === undefined ? undefined : resolve(cwd, app),
      assembly: assembly === undefined ? undefined : resolve(cwd, assembly),
      stack: values.stack as string | undefined,
      context,
      inMemory: values["in-memory"] as boolean,
      dataDir: resolve(cwd, dataDir ?? (app !== undefined ? join(app, ".local") : ".local")),
      ports,
      concurrency,
      quiet: values.quiet as boolean,
      watch: values.watch as boolean,
      inspect: values.inspect === undefined ? undefined : { fn: values.inspect as string, port: inspectPort },
    },
  };
}
