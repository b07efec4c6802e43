import { describe, expect, it } from "vitest";
import { classPathManifest } from "../../src/class-archive.ts";

// DynamoDB Local's manifest, shortened: its class path starts with its own directory and a file that is
// not there, and lists native libraries beside its jars.
const original = [
  "Manifest-Version: 1.0",
  "Main-Class: com.amazonaws.services.dynamodbv2.local.main.ServerRunner",
  "Class-Path: . log4j2.xml DynamoDBLocal_lib/Apache-HttpComponents-HttpC",
  " lient-4.5.x.jar DynamoDBLocal_lib/libsqlite4java-linux-amd64.so Dynamo",
  " DBLocal_lib/sqlite4java.jar DynamoDBLocal_lib/gone.jar DynamoDBLocal_li",
  " b/jetty-server-9.4.x.jar",
  "",
].join("\r\n");

describe("the class path of DynamoDB Local's jar copy", () => {
  const manifest = classPathManifest(original, (entry) => !entry.includes("gone"));
  const unfolded = manifest.replace(/\n /g, "");

  it("keeps the jars that are there, in their order, and nothing else", () => {
    expect(unfolded).toContain(
      "Class-Path: DynamoDBLocal_lib/Apache-HttpComponents-HttpClient-4.5.x.jar DynamoDBLocal_lib/sqlite4java.jar DynamoDBLocal_lib/jetty-server-9.4.x.jar\n",
    );
    expect(unfolded).not.toMatch(/ \. |log4j2|\.so|gone/);
    // Only the class path changes: the jar's other attributes (its main class) stay as they are.
    expect(unfolded).not.toContain("Main-Class");
  });

  it("is folded as the JAR specification wants: lines of at most 72 bytes, continued with a space", () => {
    const lines = manifest.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(72);
    for (const line of lines.slice(2)) expect(line.startsWith(" ")).toBe(true);
  });

  it("refuses a manifest without a class path", () => {
    expect(() => classPathManifest("Manifest-Version: 1.0\n", () => true)).toThrow(/no Class-Path/);
  });
});
