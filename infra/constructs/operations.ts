import { METRIC, METRICS_NAMESPACE } from "@serverless-coordination/core/aws";
import { CfnOutput, Duration } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Topic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export interface OperationsProps {
  api: HttpApi;
  functions: Record<string, IFunction>;
  changesDlq: IQueue;
  relayFailures: IQueue;
  relay: IFunction;
}

/**
 * What an operator watches: alarms to an SNS topic (output `AlarmTopicArn`; subscribe to it) and a
 * dashboard. docs/operations.md's runbook says what to do when each fires.
 */
export class Operations extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.topic = new Topic(this, "AlarmTopic", { enforceSSL: true });
    const action = new SnsAction(this.topic);
    const alarm = (name: string, metric: IMetric, threshold: number, description: string) => {
      const created = new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };
    const custom = (name: string, statistic = "Sum", dimensionsMap?: Record<string, string>) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        statistic,
        period: Duration.minutes(5),
        dimensionsMap,
      });
    const visible = (queue: IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" });

    alarm(
      "ChangesDlqNotEmpty",
      visible(props.changesDlq),
      0,
      "A change was dead-lettered: a replica missed it.",
    );
    alarm(
      "RelayFailuresNotEmpty",
      visible(props.relayFailures),
      0,
      "The Relay gave up on a batch: run OutboxReplay.",
    );
    alarm(
      "Quarantined",
      custom(METRIC.relayQuarantined, "Sum", { service: "Relay" }),
      0,
      "The Relay quarantined a poison outbox record.",
    );
    alarm(
      "RelayIteratorAge",
      props.relay.metric("IteratorAge", { statistic: "Maximum", period: Duration.minutes(5) }),
      5 * 60 * 1000,
      "The Relay is more than 5 minutes behind the outbox stream.",
    );
    alarm(
      "Api5xx",
      props.api.metricServerError({ period: Duration.minutes(5), statistic: "Sum" }),
      5,
      "More than 5 answers 5xx in 5 minutes.",
    );
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, fn.metricErrors({ period: Duration.minutes(5) }), 0, `${name} failed.`);
      alarm(
        `${name}Throttles`,
        fn.metricThrottles({ period: Duration.minutes(5) }),
        0,
        `${name} was throttled.`,
      );
    }

    new Dashboard(this, "Dashboard", {
      widgets: [
        [
          new GraphWidget({
            title: "Relay",
            left: [custom(METRIC.relaySent), custom(METRIC.relayQuarantined), custom(METRIC.relayFailed)],
            right: [props.relay.metric("IteratorAge", { statistic: "Maximum" })],
          }),
          new GraphWidget({
            title: "Replicator",
            left: [
              custom(METRIC.replicaApplied),
              custom(METRIC.replicaDuplicate),
              custom(METRIC.replicaStale),
              custom(METRIC.replicationRetried),
            ],
            right: [custom(METRIC.replicationLag, "p99"), custom(METRIC.replicationLag, "p50")],
          }),
        ],
        [
          new GraphWidget({
            title: "Queues",
            left: [visible(props.changesDlq), visible(props.relayFailures)],
          }),
          new GraphWidget({
            title: "API",
            left: [props.api.metricServerError(), props.api.metricClientError(), props.api.metricCount()],
            right: [props.api.metricLatency({ statistic: "p99" })],
          }),
        ],
        [
          new GraphWidget({
            title: "Function errors and throttles",
            left: Object.values(props.functions).map((fn) => fn.metricErrors()),
            right: Object.values(props.functions).map((fn) => fn.metricThrottles()),
          }),
        ],
      ],
    });
    new CfnOutput(scope, "AlarmTopicArn", { value: this.topic.topicArn });
  }
}
