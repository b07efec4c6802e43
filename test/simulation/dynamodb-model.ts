/**
 * An in-memory model of DynamoDB behind the document client's `send(command)`, for the deterministic
 * simulations: the production adapters (LeaseService, the acceptor, the stores) run against it unchanged.
 *
 * It models what our code depends on, including what DynamoDB does that a naive fake would not:
 * - condition expressions (comparisons, AND/OR/NOT, parentheses, attribute_exists/attribute_not_exists,
 *   begins_with) and update expressions (SET with `+`/`-` and if_not_exists, REMOVE, ADD);
 * - ConditionalCheckFailedException carrying the old item (marshalled, as the SDK gives it) with
 *   `ReturnValuesOnConditionCheckFailure: ALL_OLD`;
 * - TransactWriteItems all or nothing, TransactionCanceledException with per-action reasons (`None`,
 *   `ConditionalCheckFailed`, and injected `TransactionConflict`), and ClientRequestToken idempotency;
 * - TransactGetItems: the items as of one moment, in the request's order (`{}` for a missing one);
 * - strongly vs eventually consistent reads: an eventually consistent read may return an older image
 *   written within `staleReadMs`; global secondary indexes apply each write after a random lag up to
 *   `indexLagMs`, so a Query can miss new items and return old images of moved ones;
 * - pagination of Query and Scan (`pageSize` items a page);
 * - the SDK's retry of a request whose effect landed but whose answer was lost (`lostAnswerRate`): the
 *   request is applied again and the caller sees the second answer.
 * test/integration/dynamodb-model.test.ts runs the same operation sequences here and on DynamoDB Local.
 */
import {
  ConditionalCheckFailedException,
  IdempotentParameterMismatchException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";

type Item = Record<string, unknown>;

export interface TableDefinition {
  name: string;
  hashKey: string;
  rangeKey?: string;
  /** The TTL attribute (epoch seconds): `expire()` deletes items past it. */
  ttlAttribute?: string;
  indexes?: Array<{ name: string; hashKey: string; rangeKey?: string; projection: "ALL" | "KEYS_ONLY" }>;
}

export interface ModelFaults {
  /** Share of writes whose answer is lost after they landed, so the SDK sends them again. */
  lostAnswerRate?: number;
  /** Share of transactions cancelled with TransactionConflict (nothing applied). */
  transactionConflictRate?: number;
  /** How far back an eventually consistent read may look. */
  staleReadMs?: number;
  /** The most a global secondary index lags its table. */
  indexLagMs?: number;
}

export interface ModelOptions extends ModelFaults {
  now: () => number;
  random?: () => number;
  pageSize?: number;
}

interface Version {
  at: number;
  item: Item | undefined;
}

interface Command {
  input: Record<string, unknown>;
  constructor: { name: string };
}

class ValidationException extends Error {
  override name = "ValidationException";
}

const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value));

/** Told of every item write as it lands (a stream model and the simulations' invariant checks listen). */
export type WriteListener = (tableName: string, old: Item | undefined, next: Item | undefined) => void;

export class DynamoDBModel {
  private readonly tables = new Map<string, { definition: TableDefinition; items: Map<string, Version[]> }>();
  private readonly listeners: WriteListener[] = [];
  private readonly tokens = new Map<string, { input: string; at: number }>();
  private readonly random: () => number;

  private readonly options: ModelOptions;

  constructor(tables: TableDefinition[], options: ModelOptions) {
    this.options = options;
    this.random = options.random ?? Math.random;
    for (const definition of tables) this.tables.set(definition.name, { definition, items: new Map() });
  }

  /** The document client's entry point. */
  async send(command: Command): Promise<Record<string, unknown>> {
    const name = command.constructor.name.replace(/Command$/, "");
    const input = clone(command.input);
    const writes = new Set(["Put", "Update", "Delete", "TransactWrite"]);
    if (writes.has(name) && this.random() < (this.options.lostAnswerRate ?? 0)) {
      // The first attempt lands; its answer is lost; the SDK retries and the caller sees the retry's,
      // with the attempts counted in its metadata as the SDK counts them.
      try {
        this.execute(name, clone(input));
      } catch {
        // The lost answer was an error: the retry decides again.
      }
      try {
        return { ...this.execute(name, input), $metadata: { attempts: 2 } };
      } catch (error) {
        Object.assign(error as object, { $metadata: { attempts: 2 } });
        throw error;
      }
    }
    return this.execute(name, input);
  }

  /** Calls `listener` after every write of an item (in the order the writes land). */
  onWrite(listener: WriteListener): void {
    this.listeners.push(listener);
  }

  /**
   * Deletes every item whose TTL attribute is in the past, as DynamoDB's TTL does (AWS may take up to a
   * few days; a simulation calls this often, the worst case for code that relies on the item).
   */
  expire(): void {
    const now = this.options.now() / 1000;
    for (const [name, table] of this.tables) {
      const attribute = table.definition.ttlAttribute;
      if (!attribute) continue;
      for (const versions of [...table.items.values()]) {
        const item = versions[versions.length - 1]!.item;
        const ttl = item?.[attribute];
        if (item && typeof ttl === "number" && ttl < now)
          this.write(name, pickKey(table.definition, item), undefined);
      }
    }
  }

  /** Every item of a table as a strongly consistent read sees it. */
  items(tableName: string): Item[] {
    return [...this.table(tableName).items.values()].flatMap((versions) => {
      const item = versions[versions.length - 1]!.item;
      return item ? [clone(item)] : [];
    });
  }

  private execute(name: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (name) {
      case "Get":
        return this.get(input);
      case "BatchGet":
        return this.batchGet(input);
      case "Put":
        return this.put(input);
      case "Update":
        return this.update(input);
      case "Delete":
        return this.delete(input);
      case "Query":
        return this.query(input);
      case "Scan":
        return this.scan(input);
      case "TransactWrite":
        return this.transactWrite(input);
      case "TransactGet":
        return this.transactGet(input);
      default:
        throw new Error(`the DynamoDB model does not know ${name}`);
    }
  }

  private table(name: unknown) {
    const table = this.tables.get(String(name));
    if (!table)
      throw Object.assign(new Error(`Requested resource not found: ${name}`), {
        name: "ResourceNotFoundException",
      });
    return table;
  }

  private keyOf(definition: TableDefinition, key: Item): string {
    const parts = [definition.hashKey, ...(definition.rangeKey ? [definition.rangeKey] : [])];
    for (const part of parts)
      if (key[part] === undefined)
        throw new ValidationException(`The provided key element does not match the schema`);
    return JSON.stringify(parts.map((part) => key[part]));
  }

  private latest(tableName: unknown, key: Item): Item | undefined {
    const table = this.table(tableName);
    const versions = table.items.get(this.keyOf(table.definition, key));
    return versions?.[versions.length - 1]?.item;
  }

  /** What an eventually consistent read may see: the latest image, or one written within staleReadMs. */
  private eventual(versions: Version[] | undefined): Item | undefined {
    if (!versions || versions.length === 0) return undefined;
    const horizon = this.options.now() - (this.options.staleReadMs ?? 0);
    const candidates = versions.filter(
      (_, index) => index === versions.length - 1 || versions[index + 1]!.at > horizon,
    );
    return candidates[Math.floor(this.random() * candidates.length)]!.item;
  }

  private write(tableName: unknown, key: Item, item: Item | undefined): void {
    const table = this.table(tableName);
    const id = this.keyOf(table.definition, key);
    const versions = table.items.get(id) ?? [];
    const now = this.options.now();
    const old = versions[versions.length - 1]?.item;
    versions.push({ at: now, item: clone(item) });
    // Keep what a stale read or a lagging index can still see.
    const keepAfter = now - Math.max(this.options.staleReadMs ?? 0, this.options.indexLagMs ?? 0) - 1;
    while (versions.length > 1 && versions[1]!.at < keepAfter) versions.shift();
    table.items.set(id, versions);
    // The index applies this write after a lag: remember when.
    (versions[versions.length - 1] as Version & { indexedAt?: number }).indexedAt =
      now + Math.floor(this.random() * ((this.options.indexLagMs ?? 0) + 1));
    for (const listener of this.listeners) listener(String(tableName), clone(old), clone(item));
  }

  private get(input: Item) {
    const table = this.table(input.TableName);
    const versions = table.items.get(this.keyOf(table.definition, input.Key as Item));
    const item = input.ConsistentRead ? versions?.[versions.length - 1]?.item : this.eventual(versions);
    return item ? { Item: clone(item) } : {};
  }

  private batchGet(input: Item) {
    const requests = input.RequestItems as Record<string, { Keys: Item[]; ConsistentRead?: boolean }>;
    const Responses: Record<string, Item[]> = {};
    for (const [tableName, request] of Object.entries(requests)) {
      if (request.Keys.length > 100)
        throw new ValidationException("Too many items requested for the BatchGetItem call");
      Responses[tableName] = request.Keys.flatMap((Key) => {
        const { Item } = this.get({ TableName: tableName, Key, ConsistentRead: request.ConsistentRead });
        return Item ? [Item as Item] : [];
      });
    }
    return { Responses, UnprocessedKeys: {} };
  }

  /**
   * A transactional read: every item as of one moment (the model applies each write whole, so any moment
   * between two writes is one), or a cancellation for a conflict at `transactionConflictRate`.
   */
  private transactGet(input: Item) {
    const gets = input.TransactItems as Array<{ Get: { TableName: string; Key: Item } }>;
    if (gets.length > 100) throw new ValidationException("Member must have length less than or equal to 100");
    if (this.random() < (this.options.transactionConflictRate ?? 0))
      throw cancelled(gets.map((_, index) => ({ Code: index === 0 ? "TransactionConflict" : "None" })));
    return {
      Responses: gets.map(({ Get }) =>
        this.get({ TableName: Get.TableName, Key: Get.Key, ConsistentRead: true }),
      ),
    };
  }

  /** Throws ConditionalCheckFailedException when `condition` does not hold for `old`. */
  private check(old: Item | undefined, input: Item): void {
    const condition = input.ConditionExpression as string | undefined;
    if (!condition || evaluateCondition(condition, old ?? {}, input)) return;
    throw new ConditionalCheckFailedException({
      message: "The conditional request failed",
      $metadata: {},
      Item: input.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && old ? marshall(old) : undefined,
    });
  }

  private put(input: Item) {
    const table = this.table(input.TableName);
    const item = input.Item as Item;
    const old = this.latest(input.TableName, item);
    this.check(old, input);
    this.write(input.TableName, pickKey(table.definition, item), item);
    return input.ReturnValues === "ALL_OLD" && old ? { Attributes: clone(old) } : {};
  }

  private update(input: Item) {
    const key = input.Key as Item;
    const old = this.latest(input.TableName, key);
    this.check(old, input);
    const next = applyUpdate(String(input.UpdateExpression ?? ""), { ...clone(old ?? {}), ...key }, input);
    this.write(input.TableName, key, next);
    if (input.ReturnValues === "ALL_NEW") return { Attributes: clone(next) };
    if (input.ReturnValues === "ALL_OLD" && old) return { Attributes: clone(old) };
    return {};
  }

  private delete(input: Item) {
    const old = this.latest(input.TableName, input.Key as Item);
    this.check(old, input);
    this.write(input.TableName, input.Key as Item, undefined);
    return input.ReturnValues === "ALL_OLD" && old ? { Attributes: clone(old) } : {};
  }

  private query(input: Item) {
    const table = this.table(input.TableName);
    const index = input.IndexName
      ? table.definition.indexes?.find((candidate) => candidate.name === input.IndexName)
      : undefined;
    if (input.IndexName && !index)
      throw new ValidationException(`The table does not have the specified index: ${input.IndexName}`);
    if (index && input.ConsistentRead)
      throw new ValidationException("Consistent reads are not supported on global secondary indexes");
    const now = this.options.now();
    const candidates = [...table.items.values()].flatMap((versions) => {
      let item: Item | undefined;
      if (index) {
        // The newest image the index has applied by now.
        const applied = versions.filter(
          (version) => ((version as Version & { indexedAt?: number }).indexedAt ?? 0) <= now,
        );
        item = applied[applied.length - 1]?.item;
      } else item = input.ConsistentRead ? versions[versions.length - 1]!.item : this.eventual(versions);
      if (!item) return [];
      if (index && item[index.hashKey] === undefined) return [];
      if (!evaluateCondition(String(input.KeyConditionExpression), item, input)) return [];
      if (!index || index.projection === "ALL") return [clone(item)];
      const keys = [table.definition.hashKey, table.definition.rangeKey, index.hashKey, index.rangeKey];
      return [
        Object.fromEntries(
          keys.flatMap((name) => (name && item[name] !== undefined ? [[name, item[name]]] : [])),
        ),
      ];
    });
    return this.page(
      candidates,
      input,
      index
        ? [table.definition.hashKey, table.definition.rangeKey, index.hashKey, index.rangeKey]
        : [table.definition.hashKey, table.definition.rangeKey],
    );
  }

  private scan(input: Item) {
    const table = this.table(input.TableName);
    const items = [...table.items.values()].flatMap((versions) => {
      const item = input.ConsistentRead ? versions[versions.length - 1]!.item : this.eventual(versions);
      if (!item) return [];
      return [clone(item)];
    });
    return this.page(items, input, [table.definition.hashKey, table.definition.rangeKey]);
  }

  private page(items: Item[], input: Item, keyNames: Array<string | undefined>) {
    const names = keyNames.filter((name): name is string => name !== undefined);
    const order = (item: Item) => JSON.stringify(names.map((name) => item[name]));
    items.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    let start = 0;
    if (input.ExclusiveStartKey) {
      const after = order(input.ExclusiveStartKey as Item);
      start = items.findIndex((item) => order(item) > after);
      if (start < 0) start = items.length;
    }
    const size = Math.min(
      Number(input.Limit ?? Number.POSITIVE_INFINITY),
      this.options.pageSize ?? Number.POSITIVE_INFINITY,
    );
    const page = items.slice(start, start + size);
    const more = start + size < items.length;
    const last = page[page.length - 1];
    // Limit and pages count the items read; the filter applies to them afterwards.
    const filter = input.FilterExpression ? String(input.FilterExpression) : undefined;
    const matching = filter ? page.filter((item) => evaluateCondition(filter, item, input)) : page;
    return {
      Items: matching,
      Count: matching.length,
      ScannedCount: page.length,
      ...(more && last
        ? { LastEvaluatedKey: Object.fromEntries(names.map((name) => [name, last[name]])) }
        : {}),
    };
  }

  private transactWrite(input: Item) {
    const actions = input.TransactItems as Array<Record<string, Item>>;
    if (actions.length > 100)
      throw new ValidationException("Member must have length less than or equal to 100");
    const token = input.ClientRequestToken as string | undefined;
    if (token) {
      const seen = this.tokens.get(token);
      const fingerprint = JSON.stringify(actions);
      if (seen && this.options.now() - seen.at < 600_000) {
        if (seen.input !== fingerprint)
          throw new IdempotentParameterMismatchException({
            message: "The request uses the same client token as a previous, but non-identical request",
            $metadata: {},
          });
        return {};
      }
    }
    const targets = new Set<string>();
    for (const action of actions) {
      const [, body] = Object.entries(action)[0]!;
      const table = this.table(body.TableName);
      const id = `${body.TableName}|${this.keyOf(table.definition, (body.Key ?? pickKey(table.definition, body.Item as Item)) as Item)}`;
      if (targets.has(id))
        throw new ValidationException("Transaction request cannot include multiple operations on one item");
      targets.add(id);
    }
    if (this.random() < (this.options.transactionConflictRate ?? 0)) {
      throw cancelled(
        actions.map((_, index) => (index === 0 ? { Code: "TransactionConflict" } : { Code: "None" })),
      );
    }
    const reasons = actions.map((action) => {
      const body = Object.values(action)[0]!;
      const table = this.table(body.TableName);
      const key = (body.Key ?? pickKey(table.definition, body.Item as Item)) as Item;
      try {
        this.check(this.latest(body.TableName, key), body);
        return { Code: "None" } as { Code: string; Item?: Record<string, unknown> };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        return { Code: "ConditionalCheckFailed", ...(error.Item ? { Item: error.Item } : {}) };
      }
    });
    if (reasons.some((reason) => reason.Code !== "None")) throw cancelled(reasons);
    for (const action of actions) {
      const [kind, body] = Object.entries(action)[0]!;
      if (kind === "Put") this.put({ ...body, ConditionExpression: undefined });
      else if (kind === "Update") this.update({ ...body, ConditionExpression: undefined });
      else if (kind === "Delete") this.delete({ ...body, ConditionExpression: undefined });
    }
    if (token) this.tokens.set(token, { input: JSON.stringify(actions), at: this.options.now() });
    return {};
  }
}

function cancelled(reasons: Array<{ Code: string; Item?: Record<string, unknown> }>) {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(", ")}]`,
    $metadata: {},
    CancellationReasons: reasons as never,
  });
}

function pickKey(definition: TableDefinition, item: Item): Item {
  return Object.fromEntries(
    [definition.hashKey, definition.rangeKey].flatMap((name) => (name ? [[name, item[name]]] : [])),
  );
}

// --- expressions -------------------------------------------------------------------------------------

type Token = { kind: "name" | "value" | "word" | "op" | "paren" | "comma"; text: string };

const tokenCache = new Map<string, Token[]>();

/** The expression's tokens; the same few expressions come back all the time, so they are kept. */
function tokenize(expression: string): Token[] {
  let tokens = tokenCache.get(expression);
  if (!tokens) {
    tokens = scan(expression);
    tokenCache.set(expression, tokens);
  }
  return tokens;
}

function scan(expression: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s*(?:(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|(<>|<=|>=|=|<|>|\+|-)|([()])|(,)|([A-Za-z_][A-Za-z0-9_.]*))/y;
  let position = 0;
  while (position < expression.length) {
    if (/^\s*$/.test(expression.slice(position))) break;
    pattern.lastIndex = position;
    const match = pattern.exec(expression);
    if (!match) throw new ValidationException(`Invalid expression at ${expression.slice(position)}`);
    position = pattern.lastIndex;
    if (match[1]) tokens.push({ kind: "name", text: match[1] });
    else if (match[2]) tokens.push({ kind: "value", text: match[2] });
    else if (match[3]) tokens.push({ kind: "op", text: match[3] });
    else if (match[4]) tokens.push({ kind: "paren", text: match[4] });
    else if (match[5]) tokens.push({ kind: "comma", text: match[5] });
    else tokens.push({ kind: "word", text: match[6]! });
  }
  return tokens;
}

interface Context {
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

function attributeName(token: Token, context: Context): string {
  if (token.kind === "name") {
    const name = context.ExpressionAttributeNames?.[token.text];
    if (name === undefined)
      throw new ValidationException(
        `An expression attribute name used in the document path is not defined; attribute name: ${token.text}`,
      );
    return name;
  }
  return token.text;
}

function operandValue(token: Token, item: Item, context: Context): unknown {
  if (token.kind === "value") {
    if (!context.ExpressionAttributeValues || !(token.text in context.ExpressionAttributeValues))
      throw new ValidationException(
        `An expression attribute value used in expression is not defined; attribute value: ${token.text}`,
      );
    return context.ExpressionAttributeValues[token.text];
  }
  return item[attributeName(token, context)];
}

function compare(a: unknown, b: unknown, op: string): boolean {
  if (op === "=") return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
  if (op === "<>")
    return a === undefined || b === undefined ? a !== b : JSON.stringify(a) !== JSON.stringify(b);
  // Ordering needs two values of the same scalar type.
  if (a === undefined || b === undefined || typeof a !== typeof b) return false;
  if (typeof a !== "number" && typeof a !== "string") return false;
  const order =
    typeof a === "string"
      ? Buffer.compare(Buffer.from(a), Buffer.from(b as string))
      : Math.sign((a as number) - (b as number));
  return op === "<" ? order < 0 : op === "<=" ? order <= 0 : op === ">" ? order > 0 : order >= 0;
}

export function evaluateCondition(expression: string, item: Item, context: Context): boolean {
  const tokens = tokenize(expression);
  let position = 0;
  const peek = () => tokens[position];
  const take = () => tokens[position++]!;
  const isWord = (token: Token | undefined, word: string) =>
    token?.kind === "word" && token.text.toUpperCase() === word;

  const primary = (): boolean => {
    const token = take();
    if (token.kind === "paren" && token.text === "(") {
      const value = or();
      take();
      return value;
    }
    if (isWord(token, "NOT")) return !primary();
    if (
      token.kind === "word" &&
      ["attribute_exists", "attribute_not_exists", "begins_with"].includes(token.text)
    ) {
      take();
      const path = take();
      if (token.text === "begins_with") {
        take();
        const prefix = operandValue(take(), item, context);
        take();
        const value = operandValue(path, item, context);
        return typeof value === "string" && typeof prefix === "string" && value.startsWith(prefix);
      }
      take();
      const exists = item[attributeName(path, context)] !== undefined;
      return token.text === "attribute_exists" ? exists : !exists;
    }
    const left = operandValue(token, item, context);
    const op = take();
    if (isWord(op, "BETWEEN")) {
      const low = operandValue(take(), item, context);
      take();
      const high = operandValue(take(), item, context);
      return compare(left, low, ">=") && compare(left, high, "<=");
    }
    const right = operandValue(take(), item, context);
    return compare(left, right, op.text);
  };
  const and = (): boolean => {
    let value = primary();
    while (isWord(peek(), "AND")) {
      take();
      const next = primary();
      value = value && next;
    }
    return value;
  };
  const or = (): boolean => {
    let value = and();
    while (isWord(peek(), "OR")) {
      take();
      const next = and();
      value = value || next;
    }
    return value;
  };
  const result = or();
  if (position !== tokens.length) throw new ValidationException(`Invalid ConditionExpression: ${expression}`);
  return result;
}

export function applyUpdate(expression: string, item: Item, context: Context): Item {
  const tokens = tokenize(expression);
  let position = 0;
  const take = () => tokens[position++]!;
  const peek = () => tokens[position];
  const clause = (token: Token | undefined) =>
    token?.kind === "word" && ["SET", "REMOVE", "ADD", "DELETE"].includes(token.text.toUpperCase());
  const next = { ...item };

  const operand = (): unknown => {
    const token = take();
    if (token.kind === "word" && token.text === "if_not_exists") {
      take();
      const path = take();
      take();
      const fallback = operandValue(take(), item, context);
      take();
      const current = item[attributeName(path, context)];
      return current === undefined ? fallback : current;
    }
    return operandValue(token, item, context);
  };
  const operandSum = (): unknown => {
    let value = operand();
    while (peek()?.kind === "op" && (peek()!.text === "+" || peek()!.text === "-")) {
      const op = take().text;
      const right = operand();
      if (typeof value !== "number" || typeof right !== "number")
        throw new ValidationException("An operand in the update expression has an incorrect data type");
      value = op === "+" ? value + right : value - right;
    }
    return value;
  };

  while (position < tokens.length) {
    const kind = take().text.toUpperCase();
    do {
      if (peek()?.kind === "comma") take();
      const name = attributeName(take(), context);
      if (kind === "SET") {
        take(); // =
        next[name] = operandSum();
      } else if (kind === "REMOVE") delete next[name];
      else if (kind === "ADD") {
        const amount = operandValue(take(), item, context);
        const current = next[name];
        if (typeof amount !== "number" || (current !== undefined && typeof current !== "number"))
          throw new ValidationException("An operand in the update expression has an incorrect data type");
        next[name] = ((current as number | undefined) ?? 0) + amount;
      } else throw new ValidationException(`the model does not support ${kind}`);
    } while (peek()?.kind === "comma");
    if (position < tokens.length && !clause(peek()))
      throw new ValidationException(`Invalid UpdateExpression: ${expression}`);
  }
  return next;
}
