import { describe, expect, it } from "vitest";
import { Template } from "../../local/template.ts";

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
