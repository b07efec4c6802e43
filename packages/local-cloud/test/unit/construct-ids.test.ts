/** Naming a resource by its construct path, or by a tail of it that no other resource shares. */
import { describe, expect, it } from "vitest";
import { byConstructPath } from "../../src/construct-ids.ts";

const paths = [
  "Coordination/Replica1",
  "Coordination/Replica2",
  "Coordination/Outbox/Queue",
  "Orders/Queue",
  "Api",
];
const find = (wanted: string) => byConstructPath(paths, (path) => path, wanted);

describe("a construct path", () => {
  it("names a resource by its whole path, or by a tail only it has", () => {
    expect(find("Coordination/Replica1")).toBe("Coordination/Replica1");
    expect(find("Replica2")).toBe("Coordination/Replica2");
    expect(find("Outbox/Queue")).toBe("Coordination/Outbox/Queue");
    expect(find("Api")).toBe("Api");
  });

  it("names nothing with a tail two resources share, or with part of a segment", () => {
    expect(find("Queue")).toBeUndefined();
    expect(find("Replica")).toBeUndefined();
    expect(find("ordination/Replica1")).toBeUndefined();
  });

  it("takes the separator of function ids", () => {
    expect(byConstructPath(["Coordination-Replica3"], (id) => id, "Replica3", "-")).toBe(
      "Coordination-Replica3",
    );
  });
});
