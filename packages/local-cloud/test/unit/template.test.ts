import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runtimeMismatches } from "../../src/cloud.ts";
import type { LocalFunction } from "../../src/functions.ts";
import { unemulated } from "../../src/support.ts";
import { Template } from "../../src/template.ts";

const body = {
  Resources: {
    Table1: { Type: "AWS::DynamoDB::Table", Metadata: { "aws:cdk:path": "Stack/Orders/Resource" } },
    Fn1: { Type: "AWS::Lambda::Function" },
    Role1: { Type: "AWS::IAM::Role" },
  },
};

describe("Template intrinsics", () => {
  const template = new Template(body, "Stack", "Stack-abc");
  template.setPhysical("Table1", {
    ref: "orders",
    attributes: { Arn: "arn:table", StreamArn: "arn:stream" },
  });
  template.setPhysical("Fn1", { ref: "fn", attributes: { Arn: "arn:fn" } });

  it("resolves Ref, GetAtt (both spellings), Join, Select, Split and pseudo parameters", () => {
    expect(template.resolve({ Ref: "Table1" })).toBe("orders");
    expect(template.resolve({ "Fn::GetAtt": ["Table1", "StreamArn"] })).toBe("arn:stream");
    expect(template.resolve({ "Fn::GetAtt": "Fn1.Arn" })).toBe("arn:fn");
    expect(template.resolve({ "Fn::Join": ["-", [{ Ref: "AWS::Region" }, { Ref: "Fn1" }]] })).toBe(
      "us-east-1-fn",
    );
    expect(template.resolve({ "Fn::Select": [1, { "Fn::Split": [",", "a,b,c"] }] })).toBe("b");
  });

  it("resolves Fn::Sub with variables, resource names and attributes", () => {
    expect(template.resolve({ "Fn::Sub": "${AWS::AccountId}/${Table1}/${Fn1.Arn}" })).toBe(
      "000000000000/orders/arn:fn",
    );
    expect(template.resolve({ "Fn::Sub": ["x-${Name}", { Name: { Ref: "Fn1" } }] })).toBe("x-fn");
  });

  it("resolves nested objects and arrays and leaves plain values alone", () => {
    expect(template.resolve({ a: [{ Ref: "Table1" }, 3, null], b: "s" })).toEqual({
      a: ["orders", 3, null],
      b: "s",
    });
  });

  it("gives resources it does not create stable names, and names them by construct path", () => {
    expect(template.resolve({ "Fn::GetAtt": ["Role1", "Arn"] })).toBe(
      "arn:aws:iam::000000000000:role/Stack-abc-Role1",
    );
    expect(template.constructPath("Table1")).toBe("Orders");
    expect(template.physicalName("Queue9", undefined, ".fifo")).toBe("Stack-abc-Queue9.fifo");
  });

  it("fails clearly on what it cannot resolve", () => {
    expect(() => template.resolve({ "Fn::GetAtt": ["Fn1", "Nope"] })).toThrow(/Fn1.Nope/);
    expect(() => template.resolve({ "Fn::ImportValue": "x" })).toThrow(/not supported/);
    expect(() => template.resolve({ Ref: "Missing" })).toThrow(/no resource Missing/);
  });
});

describe("Template parameters, mappings and conditions", () => {
  const template = new Template(
    {
      Parameters: {
        Env: { Type: "String", Default: "dev" },
        Zones: { Type: "CommaDelimitedList", Default: "a,b" },
        Required: { Type: "String" },
      },
      Mappings: { Sizes: { dev: { memory: "256" }, prod: { memory: "1024" } } },
      Conditions: {
        IsProd: { "Fn::Equals": [{ Ref: "Env" }, "prod"] },
        IsDev: { "Fn::Not": [{ Condition: "IsProd" }] },
        Both: {
          "Fn::And": [
            { Condition: "IsDev" },
            { "Fn::Or": [{ Condition: "IsProd" }, { "Fn::Equals": ["x", "x"] }] },
          ],
        },
        Odd: { "Fn::Contains": [["a"], "a"] },
      },
      Resources: {
        Always: { Type: "AWS::SQS::Queue" },
        ProdOnly: { Type: "AWS::SQS::Queue", Condition: "IsProd" },
        Unknowable: { Type: "AWS::SQS::Queue", Condition: "Odd" },
        Machine: { Type: "AWS::StepFunctions::StateMachine" },
      },
    },
    "Stack",
  );

  it("takes parameters' defaults, lists split, and refuses a parameter without one", () => {
    expect(template.resolve({ Ref: "Env" })).toBe("dev");
    expect(template.resolve({ "Fn::Sub": "${Env}-x" })).toBe("dev-x");
    expect(template.resolve({ Ref: "Zones" })).toEqual(["a", "b"]);
    expect(() => template.resolve({ Ref: "Required" })).toThrow(/no default/);
  });

  it("looks up mappings and evaluates conditions, Fn::If and AWS::NoValue", () => {
    expect(template.resolve({ "Fn::FindInMap": ["Sizes", { Ref: "Env" }, "memory"] })).toBe("256");
    expect(template.condition("IsProd")).toBe(false);
    expect(template.condition("Both")).toBe(true);
    expect(template.resolve({ "Fn::If": ["IsProd", "big", "small"] })).toBe("small");
    expect(
      template.resolve({
        A: 1,
        B: { "Fn::If": ["IsProd", 2, { Ref: "AWS::NoValue" }] },
        C: [1, { Ref: "AWS::NoValue" }],
      }),
    ).toEqual({ A: 1, C: [1] });
  });

  it("leaves out resources whose condition is false, and lists what it does not run with a reason", () => {
    expect(template.resourcesOfType("AWS::SQS::Queue").map(([id]) => id)).toEqual(["Always"]);
    const skipped = unemulated(template);
    expect(skipped).toEqual([
      {
        logicalId: "ProdOnly",
        type: "AWS::SQS::Queue",
        reason: expect.stringMatching(/condition IsProd is false/),
      },
      {
        logicalId: "Unknowable",
        type: "AWS::SQS::Queue",
        reason: expect.stringMatching(/cannot be evaluated/),
      },
      {
        logicalId: "Machine",
        type: "AWS::StepFunctions::StateMachine",
        reason: expect.stringMatching(/not emulated/),
      },
    ]);
    // What refers to a resource that is not emulated still resolves.
    expect(template.resolve({ "Fn::GetAtt": ["Machine", "Arn"] })).toBe(
      "arn:aws:stepfunctions:us-east-1:000000000000:Stack-Machine",
    );
    expect(template.resolve({ Ref: "Machine" })).toBe("Machine");
  });
});

describe("the Node.js that runs the functions", () => {
  it("warns once per runtime whose major differs from this process's", () => {
    const template = new Template(
      {
        Resources: {
          A: { Type: "AWS::Lambda::Function", Properties: { Runtime: "nodejs24.x" } },
          B: { Type: "AWS::Lambda::Function", Properties: { Runtime: "nodejs24.x" } },
          C: { Type: "AWS::Lambda::Function", Properties: { Runtime: "nodejs20.x" } },
        },
      },
      "Stack",
    );
    const functions = ["A", "B", "C"].map((id) => ({ id, logicalId: id }) as LocalFunction);
    expect(runtimeMismatches(template, functions, 20)).toEqual([
      "A, B deploy to Lambda's nodejs24.x but run here on Node.js 20: install Node.js 24 to test what deploys",
    ]);
    expect(runtimeMismatches(template, functions, 24)).toEqual([
      "C deploys to Lambda's nodejs20.x but runs here on Node.js 24: install Node.js 20 to test what deploys",
    ]);
  });
});

describe("the Python that runs the functions", () => {
  /** A stand-in Python that answers the local cloud's one question (version, boto3) as told. */
  const fakePython = (answer: string) => {
    const path = join(mkdtempSync(join(tmpdir(), "fake-python-")), "python3");
    writeFileSync(path, `#!/bin/sh\necho "${answer}"\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const template = new Template(
    {
      Resources: {
        P: { Type: "AWS::Lambda::Function", Properties: { Runtime: "python3.12" } },
        Q: { Type: "AWS::Lambda::Function", Properties: { Runtime: "python3.13" } },
      },
    },
    "Stack",
  );
  const functions = ["P", "Q"].map((id) => ({ id, logicalId: id }) as LocalFunction);

  it("warns per runtime whose version is not this Python's, and when it cannot import boto3", () => {
    const python = fakePython("3.12 False");
    expect(runtimeMismatches(template, functions, 24, python)).toEqual([
      `Q deploys to Lambda's python3.13 but runs here on Python 3.12 (${python}): set LOCAL_CLOUD_PYTHON to a Python 3.13 to test what deploys`,
      `P, Q run on ${python}, which cannot import boto3 (Lambda's Python runtimes provide it): install it there (pip install boto3, or Debian's python3-boto3) or set LOCAL_CLOUD_PYTHON`,
    ]);
    expect(runtimeMismatches(template, [functions[0]!], 24, fakePython("3.12 True"))).toEqual([]);
  });
});
