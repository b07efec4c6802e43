// An order API whose writes go through a transactional outbox, a billing consumer that applies each
// order once however often it is delivered, and a Paxos register for a configuration value.
import { IdempotentConsumer, PaxosRegister, TransactionalOutbox } from "@serverless-coordination/cdk";
import { App, CfnOutput, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { HttpApi, HttpMethod } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { AttributeType, BillingMode, Table } from "aws-cdk-lib/aws-dynamodb";
import { Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";

const app = new App();
const stack = new Stack(app, "Orders");
const table = (id: string) =>
  new Table(stack, id, {
    partitionKey: { name: "pk", type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    removalPolicy: RemovalPolicy.DESTROY,
  });
const fn = (id: string, entry: string) =>
  new NodejsFunction(stack, id, {
    entry,
    runtime: Runtime.NODEJS_24_X,
    timeout: Duration.seconds(10),
    bundling: { format: OutputFormat.ESM, externalModules: ["@aws-sdk/*"] },
  });

const orders = table("OrdersTable");
const billing = table("BillingTable");
const api = fn("OrdersApi", "functions/api.ts");
orders.grantReadWriteData(api);
api.addEnvironment("ORDERS_TABLE", orders.tableName);

// The order and its outbox record commit together; the Relay sends it to the outbox's FIFO queue.
const outbox = new TransactionalOutbox(stack, "Outbox", { removalPolicy: RemovalPolicy.DESTROY });
outbox.grantCommit(api);

// Billing charges each order once, however often its message is delivered.
const biller = fn("Biller", "functions/billing.ts");
billing.grantReadWriteData(biller);
biller.addEnvironment("BILLING_TABLE", billing.tableName);
new IdempotentConsumer(stack, "Billing", {
  queue: outbox.queue,
  handler: biller,
  removalPolicy: RemovalPolicy.DESTROY,
});

// The shop's configuration: a register with compare-and-set.
new PaxosRegister(stack, "Config", { removalPolicy: RemovalPolicy.DESTROY }).grantPropose(api);

const http = new HttpApi(stack, "Http");
const integration = new HttpLambdaIntegration("Api", api);
http.addRoutes({ path: "/orders/{id}", methods: [HttpMethod.POST, HttpMethod.GET], integration });
http.addRoutes({ path: "/config", methods: [HttpMethod.GET, HttpMethod.PUT], integration });
new CfnOutput(stack, "ApiUrl", { value: http.apiEndpoint });
new CfnOutput(stack, "BillerName", { value: biller.functionName });
new CfnOutput(stack, "BillingTableName", { value: billing.tableName });
