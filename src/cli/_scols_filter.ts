/**
 * util-linux's display filter (libsmartcols, `lsns -Q`, scols-filter(5)) over table rows:
 * column names, string/number/float/boolean literals, `==` `!=` `<` `<=` `>` `>=` (and
 * `eq` `ne` `lt` `le` `gt` `ge`, upper case too), `=~` `!~` (regular expression on the
 * right, a string literal), `&&`/`and`, `||`/`or`, `!`/`not`, parentheses.
 *
 * Semantics follow libsmartcols' grammar (filter-parser.y) rather than intuition where the
 * two differ, so a filter means the same to nsjoin as to lsns: `and` and `or` share one
 * precedence level and group left to right (`a || b && c` is `(a || b) && c`); comparisons
 * and `!` bind tighter and also group left to right (`!A == B` is `(!A) == B`). A column
 * alone is true when its cell is not empty. Comparisons cast to the literal's type (float
 * wins over integer); a comparison with an empty number cell is false.
 *
 * Hand-written: the grammar is small, and no npm package implements scols-filter(5).
 *
 * @module
 */

/** The type of a column, as `lsns -H` prints it. */
export type FilterType = "string" | "integer" | "float" | "boolean";

/** A row's cell for the filter: a string, a number, or null when empty. */
export type FilterCell = string | number | null;

/** A parsed filter: call it with a function that gives a column's cell for the row. */
export type RowFilter = (cell: (column: string) => FilterCell) => boolean;

/** A filter that does not parse: the message says what and where (1-based position). */
export class FilterSyntaxError extends Error {
  override name = "FilterSyntaxError";
  /** 1-based character position of the offending token. */
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.position = position;
  }
}

type _Tok =
  | { k: "op"; v: string; at: number }
  | { k: "num"; v: number; float: boolean; at: number }
  | { k: "str"; v: string; at: number }
  | { k: "bool"; v: boolean; at: number }
  | { k: "holder"; v: string; at: number }
  | { k: "end"; at: number };

const _WORDS: Record<string, string> = {
  and: "&&",
  AND: "&&",
  or: "||",
  OR: "||",
  not: "!",
  NOT: "!",
  eq: "==",
  EQ: "==",
  ne: "!=",
  NE: "!=",
  le: "<=",
  LE: "<=",
  lt: "<",
  LT: "<",
  ge: ">=",
  GE: ">=",
  gt: ">",
  GT: ">",
};

const _SUFFIX = "KMGTPEZY";

function _tokens(src: string): _Tok[] {
  const out: _Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const at = i + 1;
    if (c === " " || c === "\t" || c === "\n") {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (["&&", "||", "==", "!=", "<=", ">=", "=~", "!~"].includes(two)) {
      out.push({ k: "op", v: two, at });
      i += 2;
      continue;
    }
    if ("()!<>".includes(c)) {
      out.push({ k: "op", v: c, at });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = src.indexOf(c, i + 1);
      const nl = src.indexOf("\n", i + 1);
      if (end < 0 || (nl >= 0 && nl < end)) throw new FilterSyntaxError("unterminated string", at);
      out.push({ k: "str", v: src.slice(i + 1, end), at });
      i = end + 1;
      continue;
    }
    let m = /^[0-9]+\.[0-9]+/.exec(src.slice(i));
    if (m) {
      out.push({ k: "num", v: Number(m[0]), float: true, at });
      i += m[0].length;
      continue;
    }
    m = /^([0-9]+)(?:([KMGTPEZY])(iB)?)?/.exec(src.slice(i));
    if (m) {
      let v = Number(m[1]);
      if (m[2]) v *= 1024 ** (_SUFFIX.indexOf(m[2]) + 1);
      if (!Number.isSafeInteger(v)) throw new FilterSyntaxError(`"${m[0]}" number too large`, at);
      out.push({ k: "num", v, float: false, at });
      i += m[0].length;
      continue;
    }
    m = /^[a-zA-Z][a-zA-Z_.%:/\-0-9]*/.exec(src.slice(i));
    if (m) {
      const w = m[0];
      if (w in _WORDS) out.push({ k: "op", v: _WORDS[w], at });
      else if (w === "true" || w === "TRUE" || w === "false" || w === "FALSE") {
        out.push({ k: "bool", v: w.toLowerCase() === "true", at });
      } else out.push({ k: "holder", v: w, at });
      i += w.length;
      continue;
    }
    throw new FilterSyntaxError(`unexpected character ${JSON.stringify(c)}`, at);
  }
  out.push({ k: "end", at: src.length + 1 });
  return out;
}

type _Node =
  | { n: "lit"; type: FilterType; v: string | number | boolean }
  | { n: "holder"; name: string; type: FilterType }
  | { n: "not"; a: _Node }
  | { n: "logic"; op: string; a: _Node; b: _Node }
  | { n: "cmp"; op: string; a: _Node; b: _Node }
  | { n: "re"; negate: boolean; a: _Node; re: RegExp };

const _CMP = new Set(["==", "!=", "<", "<=", ">", ">=", "=~", "!~"]);

function _describe(t: _Tok): string {
  switch (t.k) {
    case "end":
      return "end of expression";
    case "op":
      return `"${t.v}"`;
    case "str":
      return "string";
    case "num":
      return "number";
    case "bool":
      return "boolean";
    case "holder":
      return `column name ${t.v}`;
  }
}

/**
 * Parses a filter expression for a table whose columns have the given types.
 *
 * @param src the expression (as given to `-Q`)
 * @param columns every column the filter may name, upper case, with its type
 * @returns the filter
 * @throws {FilterSyntaxError} on a syntax error or an unknown column, with its position
 *
 * @example
 * ```ts
 * import { parseFilter } from "./_scols_filter.ts";
 * const f = parseFilter('TYPE == "net" && NPROCS > 1', { TYPE: "string", NPROCS: "integer" });
 * const row: Record<string, string | number> = { TYPE: "net", NPROCS: 3 };
 * if (!f((c) => row[c])) throw new Error("expected a match");
 * ```
 */
export function parseFilter(src: string, columns: Readonly<Record<string, FilterType>>): RowFilter {
  const toks = _tokens(src);
  let p = 0;
  const peek = () => toks[p];
  const unexpected = (t: _Tok): never => {
    throw new FilterSyntaxError(`syntax error, unexpected ${_describe(t)}`, t.at);
  };
  // Comparisons and "!" share one level (left to right), above "&&"/"||" (one level).
  const primary = (): _Node => {
    const t = toks[p++];
    switch (t.k) {
      case "num":
        return { n: "lit", type: t.float ? "float" : "integer", v: t.v };
      case "str":
        return { n: "lit", type: "string", v: t.v };
      case "bool":
        return { n: "lit", type: "boolean", v: t.v };
      case "holder": {
        const name = t.v.toUpperCase();
        const type = columns[name];
        if (!type) throw new FilterSyntaxError(`unknown column ${t.v}`, t.at);
        return { n: "holder", name, type };
      }
      case "op":
        if (t.v === "(") {
          const e = logic();
          const close = toks[p++];
          if (close.k !== "op" || close.v !== ")") unexpected(close);
          return e;
        }
        if (t.v === "!") return { n: "not", a: primary() };
        return unexpected(t);
      case "end":
        return unexpected(t);
    }
  };
  const compare = (): _Node => {
    let left = primary();
    for (;;) {
      const t = peek();
      if (t.k !== "op" || !_CMP.has(t.v)) return left;
      p++;
      if (t.v === "=~" || t.v === "!~") {
        const r = toks[p++];
        if (r.k !== "str") {
          throw new FilterSyntaxError(`the right side of ${t.v} must be a string`, r.at);
        }
        let re: RegExp;
        try {
          re = new RegExp(r.v);
        } catch (error) {
          throw new FilterSyntaxError(`bad regular expression: ${(error as Error).message}`, r.at);
        }
        left = { n: "re", negate: t.v === "!~", a: left, re };
      } else {
        left = { n: "cmp", op: t.v, a: left, b: primary() };
      }
    }
  };
  const logic = (): _Node => {
    let left = compare();
    for (;;) {
      const t = peek();
      if (t.k !== "op" || (t.v !== "&&" && t.v !== "||")) return left;
      p++;
      left = { n: "logic", op: t.v, a: left, b: compare() };
    }
  };
  const root = logic();
  if (peek().k !== "end") unexpected(peek());
  return (cell) => _truth(_eval(root, cell));
}

type _Val = { type: FilterType; v: string | number | boolean | null };

function _eval(node: _Node, cell: (column: string) => FilterCell): _Val {
  switch (node.n) {
    case "lit":
      return { type: node.type, v: node.v };
    case "holder": {
      const c = cell(node.name);
      return { type: node.type, v: c === null || c === "" ? null : c };
    }
    case "not":
      return { type: "boolean", v: !_truth(_eval(node.a, cell)) };
    case "logic": {
      const a = _truth(_eval(node.a, cell));
      if (node.op === "&&") return { type: "boolean", v: a && _truth(_eval(node.b, cell)) };
      return { type: "boolean", v: a || _truth(_eval(node.b, cell)) };
    }
    case "re": {
      const s = _cast(_eval(node.a, cell), "string").v as string | null;
      const hit = node.re.test(s ?? "");
      return { type: "boolean", v: node.negate ? !hit : hit };
    }
    case "cmp":
      return { type: "boolean", v: _compare(node, cell) };
  }
}

/** A value alone: a boolean is itself; anything else is true when not empty. */
function _truth(x: _Val): boolean {
  if (x.type === "boolean") return x.v === true;
  return x.v !== null && x.v !== "";
}

function _cast(x: _Val, type: FilterType): _Val {
  if (x.type === type || x.v === null) return { type, v: x.v };
  const v = x.v;
  switch (type) {
    case "string":
      return { type, v: typeof v === "boolean" ? (v ? "true" : "false") : String(v) };
    case "integer":
    case "float": {
      if (typeof v === "boolean") return { type, v: v ? 1 : 0 };
      const n = Number(v);
      return { type, v: Number.isFinite(n) ? (type === "integer" ? Math.trunc(n) : n) : null };
    }
    case "boolean":
      if (typeof v === "number") return { type, v: v > 0 };
      return { type, v: v === "1" || /^(true|y|yes)$/i.test(v as string) };
  }
}

function _compare(node: _Node & { n: "cmp" }, cell: (column: string) => FilterCell): boolean {
  let a = _eval(node.a, cell), b = _eval(node.b, cell);
  // The literal's type wins; between integer and float, float; else the left side's.
  let type: FilterType = node.b.n === "lit" ? b.type : node.a.n === "lit" ? a.type : a.type;
  if (
    (a.type === "float" || b.type === "float") && (a.type === "integer" || b.type === "integer")
  ) {
    type = "float";
  }
  a = _cast(a, type);
  b = _cast(b, type);
  if (type !== "string" && (a.v === null || b.v === null)) return false;
  const x = type === "string" ? (a.v ?? "") as string : a.v as number | boolean;
  const y = type === "string" ? (b.v ?? "") as string : b.v as number | boolean;
  switch (node.op) {
    case "==":
      return x === y;
    case "!=":
      return x !== y;
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    default:
      return x >= y;
  }
}
