//! Data feeders: load a CSV file or a JSON array of objects into a [`Table`], and hand its rows
//! to users in one of four [`Order`]s from per-worker state, without a lock or an atomic per
//! request.
//!
//! # Orders
//! - `per-user` (the default): user `u` (its run-wide id) takes row `u mod rows` once, when it
//!   starts, and keeps it for all its iterations.
//! - `sequential`: every iteration takes the next row; the table is walked in order, over and
//!   over, run-wide.
//! - `random`: every iteration takes a row drawn uniformly from the whole table.
//! - `unique`: every iteration takes a row no other iteration of the run has taken; when the
//!   rows are used up, a user that asks for one stops.
//!
//! # Partitioning
//! A run has `slots = workers × shards` feeders (one per worker thread per box), numbered
//! `slot = worker × shards + shard` like the users' run-wide ids. They never talk to each other.
//! Instead, the run-wide sequence of row positions `0, 1, 2, 3, …` is dealt round-robin to the
//! slots, as cards are dealt to players: slot `s` gets positions `s, s + slots, s + 2·slots, …`,
//! and position `g` is row `g mod rows`.
//! - `unique` stops at the end of the first pass (`g < rows`), so slot `s` owns exactly the rows
//!   `r` with `r mod slots = s`: every row is used once in the whole run, by one worker, in
//!   ascending order. A slot owns `rows / slots` rows, or one more. With more slots than rows,
//!   slots `rows…slots-1` own none: their users stop at their first iteration.
//! - `sequential` goes on past the end: slot `s` takes rows `s, s + slots, s + 2·slots, …`, each
//!   modulo `rows`. When every slot has run the same number of iterations, the slots together
//!   have walked a contiguous stretch of the run-wide sequence, so every row has been used the
//!   same number of times, give or take one. When `rows` is a multiple of `slots` each slot
//!   cycles over its own `rows / slots` rows; otherwise (and in particular with more slots than
//!   rows, where slot `s` starts at row `s mod rows`) each slot's walk crosses into the others'
//!   rows, which keeps the run-wide use even instead of giving a slot with a smaller share more
//!   turns per row.
//! - `random` and `per-user` need no partition: `random` draws from the worker's own RNG over the
//!   whole table; `per-user` depends only on the user's run-wide id, which is already unique.
//!
//! All boxes of a sharded run must load the same file with the same number of workers, as for
//! the users' run-wide ids.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A loaded data file: column names and, per row, one value per column (raw bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Vec<u8>>>,
}

/// Load a data file: JSON when its extension is `.json` (any case), CSV otherwise. Errors do
/// not name the file; the caller adds it.
pub fn load(path: &Path) -> Result<Table, String> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        read_json(&bytes)
    } else {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        read_csv(std::io::BufReader::new(file))
    }
}

/// Read CSV: the first line names every column (names trimmed, none empty); every row has as
/// many fields as the header; at least one row. Values are kept as raw bytes, untrimmed.
pub fn read_csv(input: impl Read) -> Result<Table, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let columns: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_string()).collect(),
        Err(e) => return Err(csv_reason(&e)),
    };
    if columns.is_empty() || columns.iter().any(String::is_empty) {
        return Err("the first line must name every column".into());
    }
    let mut rows = Vec::new();
    for (i, rec) in reader.byte_records().enumerate() {
        match rec {
            Ok(r) => rows.push(r.iter().map(<[u8]>::to_vec).collect()),
            // Row 1 is the header.
            Err(e) => return Err(format!("row {}: {}", i + 2, csv_reason(&e))),
        }
    }
    if rows.is_empty() {
        return Err("has no rows".into());
    }
    Ok(Table { columns, rows })
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        _ => e.to_string(),
    }
}

/// Read a JSON array of objects. Columns are the union of the objects' keys in first-seen order,
/// and every object must have every column. A value is a string's text; a number or boolean as
/// JSON text (numbers re-printed: `1.50` gives `1.5`); an array or object as compact JSON, keys
/// in the order written. `null`, an empty key or a key twice in one object is refused.
pub fn read_json(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Json = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let Json::Arr(items) = value else {
        return Err(format!("must hold a JSON array of objects, not {}", value.kind()));
    };
    if items.is_empty() {
        return Err("has no rows".into());
    }
    let mut objects = Vec::with_capacity(items.len());
    let mut columns: Vec<String> = Vec::new();
    // Per column, the first item that has it (for the error on an item that does not).
    let mut first: Vec<usize> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Json::Obj(fields) = item else {
            return Err(format!("item [{i}] is {}, not an object", item.kind()));
        };
        for (n, (key, value)) in fields.iter().enumerate() {
            if key.is_empty() {
                return Err(format!("item [{i}] has an empty key"));
            }
            if fields[..n].iter().any(|(k, _)| k == key) {
                return Err(format!("item [{i}] has key `{key}` twice"));
            }
            if matches!(value, Json::Null) {
                return Err(format!("item [{i}] key `{key}` is null (write \"\" for an empty value)"));
            }
            if !columns.contains(key) {
                columns.push(key.clone());
                first.push(i);
            }
        }
        objects.push(fields);
    }
    if columns.is_empty() {
        return Err("the objects have no keys: each key is a column".into());
    }
    let mut rows = Vec::with_capacity(objects.len());
    for (i, mut fields) in objects.into_iter().enumerate() {
        let mut row = Vec::with_capacity(columns.len());
        for (c, name) in columns.iter().enumerate() {
            let Some(pos) = fields.iter().position(|(k, _)| k == name) else {
                return Err(format!("item [{i}] has no key `{name}` (item [{}] has it)", first[c]));
            };
            let (_, value) = fields.swap_remove(pos);
            row.push(value.into_cell());
        }
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

/// A JSON value that keeps object keys in the order written (serde_json's `Value` sorts them
/// unless its `preserve_order` feature is on).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Num(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
        }
    }

    /// The bytes of a table cell: a string's text, anything else as compact JSON.
    fn into_cell(self) -> Vec<u8> {
        match self {
            Json::Str(s) => s.into_bytes(),
            other => {
                let mut out = Vec::new();
                other.write(&mut out);
                out
            }
        }
    }

    /// Compact JSON text. Depth is bounded by serde_json's recursion limit when parsing.
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Json::Num(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Json::Str(s) => write_str(s, out),
            Json::Arr(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Json::Obj(fields) => {
                out.push(b'{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(k, out);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

/// A JSON string literal, escaped as serde_json escapes it.
fn write_str(s: &str, out: &mut Vec<u8>) {
    // Serializing a str into a Vec cannot fail; were it to, the string is left out rather than
    // panicking.
    let _ = serde_json::to_writer(&mut *out, s);
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Num(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Num(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(n).map(Json::Num).ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::Str(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            fields.push((k, v));
        }
        Ok(Json::Obj(fields))
    }
}

/// How a user type's rows are handed to its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// User `u` keeps row `u mod rows` (by run-wide user id) for all its iterations.
    #[default]
    PerUser,
    /// Each iteration takes the next row, wrapping at the end.
    Sequential,
    /// Each iteration takes a uniformly random row.
    Random,
    /// Each iteration takes a row never used before in the run; none left: the user stops.
    Unique,
}

impl Order {
    /// Parse the scenario spelling: `per-user`, `sequential`, `random` or `unique`.
    pub fn parse(s: &str) -> Result<Order, String> {
        match s {
            "per-user" => Ok(Order::PerUser),
            "sequential" => Ok(Order::Sequential),
            "random" => Ok(Order::Random),
            "unique" => Ok(Order::Unique),
            _ => Err(format!("order `{s}`: use per-user, sequential, random or unique")),
        }
    }

    /// The scenario spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::PerUser => "per-user",
            Order::Sequential => "sequential",
            Order::Random => "random",
            Order::Unique => "unique",
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One worker's feeder for one table: which row a user or an iteration takes. Single-threaded
/// (`Cell` state, shared by the worker's users through `&self`); see the module documentation
/// for how the `slots` feeders of a run share the rows.
#[derive(Debug)]
pub struct Feeder {
    order: Order,
    rows: usize,
    slots: usize,
    /// Sequential: `slots mod rows`, the distance from one of this slot's rows to its next.
    step: usize,
    /// Sequential: the next row (< rows). Unique: the next run-wide position, used while < rows.
    cursor: Cell<usize>,
    /// Unique: how many times `next` answered `None`.
    refused: Cell<u64>,
}

impl Feeder {
    /// The feeder of slot `slot` (this worker's run-wide index, `worker × shards + shard`) out
    /// of `slots` (`workers × shards`) over a table of `rows` rows. `slots == 0` counts as 1 and
    /// `slot` is taken modulo `slots`. Over an empty table every answer is `None`.
    pub fn new(order: Order, rows: usize, slot: usize, slots: usize) -> Feeder {
        let slots = slots.max(1);
        let slot = slot % slots;
        let (step, cursor) = match order {
            Order::Sequential if rows > 0 => (slots % rows, slot % rows),
            Order::Unique => (0, slot),
            _ => (0, 0),
        };
        Feeder { order, rows, slots, step, cursor: Cell::new(cursor), refused: Cell::new(0) }
    }

    /// PerUser: the row user `user_id` (run-wide id) keeps, `user_id mod rows`. `None` for the
    /// other orders (their rows come from [`Feeder::next`]) and over an empty table.
    pub fn for_user(&self, user_id: u64) -> Option<usize> {
        match self.order {
            Order::PerUser if self.rows > 0 => Some((user_id % self.rows as u64) as usize),
            _ => None,
        }
    }

    /// The row for the iteration about to start (call only when [`Feeder::per_iteration`]).
    /// Sequential: this slot's next row, wrapping. Random: `rng_value mod rows` (pass a fresh
    /// random `u64`). Unique: this slot's next unused row, `None` once they are used up (the
    /// user then stops; counted in [`Feeder::refused`]). PerUser and an empty table: `None`.
    pub fn next(&self, rng_value: u64) -> Option<usize> {
        match self.order {
            Order::PerUser => None,
            _ if self.rows == 0 && self.order != Order::Unique => None,
            Order::Random => Some((rng_value % self.rows as u64) as usize),
            Order::Sequential => {
                let row = self.cursor.get();
                // row + step, modulo rows, without overflow (both are below rows).
                let gap = self.rows - self.step;
                self.cursor.set(if row >= gap { row - gap } else { row + self.step });
                Some(row)
            }
            Order::Unique => {
                let g = self.cursor.get();
                if g >= self.rows {
                    self.refused.set(self.refused.get().saturating_add(1));
                    return None;
                }
                self.cursor.set(g.saturating_add(self.slots));
                Some(g)
            }
        }
    }

    /// Whether rows are taken per iteration ([`Feeder::next`]) rather than once per user
    /// ([`Feeder::for_user`]): false only for PerUser.
    pub fn per_iteration(&self) -> bool {
        self.order != Order::PerUser
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No row will be given any more: a Unique feeder whose rows are used up (or that owns
    /// none), or any feeder over an empty table.
    fn exhausted(f: &Feeder) -> bool {
        f.rows == 0 || (f.order == Order::Unique && f.cursor.get() >= f.rows)
    }

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    fn json(text: &str) -> Result<Table, String> {
        read_json(text.as_bytes())
    }

    fn csv(text: &str) -> Result<Table, String> {
        read_csv(text.as_bytes())
    }
    // ---- loading: CSV ----

    #[test]
    fn csv_columns_are_trimmed_and_values_kept_as_written() {
        let t = csv(" id , name\n1, Ann \n2,\"b, \"\"c\"\"\nd\"\n").unwrap();
        assert_eq!(t.columns, ["id", "name"]);
        assert_eq!(t.rows, [vec![b("1"), b(" Ann ")], vec![b("2"), b("b, \"c\"\nd")]]);
    }

    #[test]
    fn csv_values_may_be_any_bytes_and_a_bom_is_not_a_column_name() {
        let t = read_csv(&b"\xEF\xBB\xBFid\n\xff\xfe\n"[..]).unwrap();
        assert_eq!(t.columns, ["id"]);
        assert_eq!(t.rows, [vec![vec![0xff, 0xfe]]]);
    }

    #[test]
    fn csv_rows_must_match_the_header() {
        assert_eq!(csv("a,b\nx\n").unwrap_err(), "row 2: has 1 fields where the header has 2");
        assert_eq!(csv("a,b\n1,2\n1,2,3\n").unwrap_err(), "row 3: has 3 fields where the header has 2");
    }

    #[test]
    fn csv_needs_a_full_header_and_a_row() {
        for text in ["", "\n", "a,,b\n1,2,3\n", "a, \n1,2\n"] {
            assert_eq!(csv(text).unwrap_err(), "the first line must name every column", "{text:?}");
        }
        assert_eq!(csv("a,b\n").unwrap_err(), "has no rows");
        assert_eq!(csv("a,b").unwrap_err(), "has no rows");
    }

    #[test]
    fn csv_header_that_is_not_utf8_is_refused() {
        let e = read_csv(&b"a\xff\n1\n"[..]).unwrap_err();
        assert!(!e.is_empty());
    }

    // ---- loading: JSON ----

    #[test]
    fn json_columns_are_the_union_of_keys_in_first_seen_order() {
        let t = json(
            r#"[{"id": 1, "name": "Ann", "tags": ["x", 2], "meta": {"z": 1, "a": true}},
                {"meta": {}, "name": "Bob", "id": 2.5, "tags": []}]"#,
        )
        .unwrap();
        assert_eq!(t.columns, ["id", "name", "tags", "meta"]);
        assert_eq!(t.rows[0], [b("1"), b("Ann"), b(r#"["x",2]"#), b(r#"{"z":1,"a":true}"#)]);
        assert_eq!(t.rows[1], [b("2.5"), b("Bob"), b("[]"), b("{}")]);
    }

    #[test]
    fn json_values_become_text() {
        let t = json(
            r#"[{"s": "a\"b\n\u00e9", "t": true, "f": false, "n": -3, "big": 18446744073709551615,
                 "x": 1.50, "e": 1e2, "nest": {"q": "\"", "n": [null, {"k": "\u0001"}]}}]"#,
        )
        .unwrap();
        let row: Vec<String> = t.rows[0].iter().map(|v| String::from_utf8(v.clone()).unwrap()).collect();
        assert_eq!(
            row,
            [
                "a\"b\né",
                "true",
                "false",
                "-3",
                "18446744073709551615",
                "1.5",
                "100.0",
                r#"{"q":"\"","n":[null,{"k":"\u0001"}]}"#
            ]
        );
    }

    #[test]
    fn json_every_item_needs_every_key() {
        assert_eq!(json(r#"[{"a": 1}, {"a": 2, "b": 3}]"#).unwrap_err(), "item [0] has no key `b` (item [1] has it)");
        assert_eq!(json(r#"[{"a": 1, "b": 2}, {"b": 3}]"#).unwrap_err(), "item [1] has no key `a` (item [0] has it)");
    }

    #[test]
    fn json_bad_items_are_named() {
        assert_eq!(
            json(r#"[{"a": 1}, {"a": null}]"#).unwrap_err(),
            "item [1] key `a` is null (write \"\" for an empty value)"
        );
        assert_eq!(json(r#"[{"a": 1}, 2]"#).unwrap_err(), "item [1] is a number, not an object");
        assert_eq!(json(r#"[["a"]]"#).unwrap_err(), "item [0] is an array, not an object");
        assert_eq!(json(r#"[{"a": 1, "a": 2}]"#).unwrap_err(), "item [0] has key `a` twice");
        assert_eq!(json(r#"[{"": 1}]"#).unwrap_err(), "item [0] has an empty key");
        assert_eq!(json(r#"[{}, {}]"#).unwrap_err(), "the objects have no keys: each key is a column");
    }

    #[test]
    fn json_must_be_a_non_empty_array() {
        assert_eq!(json("[]").unwrap_err(), "has no rows");
        assert_eq!(json(r#"{"a": 1}"#).unwrap_err(), "must hold a JSON array of objects, not an object");
        assert_eq!(json(r#""x""#).unwrap_err(), "must hold a JSON array of objects, not a string");
        assert_eq!(json("null").unwrap_err(), "must hold a JSON array of objects, not null");
    }

    #[test]
    fn json_syntax_errors_say_where() {
        for text in ["", "[{\"a\": 1}", "[{\"a\": 1}] x", "[{\"a\": 1e400}]", "[{\"a\": tru}]"] {
            let e = json(text).unwrap_err();
            assert!(e.starts_with("not valid JSON: ") && e.contains("line"), "{text:?}: {e}");
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(json(&deep).unwrap_err().starts_with("not valid JSON: "));
        assert!(read_json(b"[{\"a\": \"\xff\"}]").unwrap_err().starts_with("not valid JSON: "));
    }

    #[test]
    fn json_may_start_with_a_bom() {
        let t = read_json(b"\xEF\xBB\xBF[{\"a\": \"x\"}]").unwrap();
        assert_eq!(t, Table { columns: vec!["a".into()], rows: vec![vec![b("x")]] });
    }

    #[test]
    fn load_picks_the_format_by_extension_and_names_no_path() {
        let dir = std::env::temp_dir().join(format!("stampede-feeder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let both = "[{\"a\": \"1\"}]";
        for (name, text) in [("u.csv", "a\n1\n"), ("u.JSON", both), ("u.json", both), ("u.txt", "a\n1\n")] {
            std::fs::write(dir.join(name), text).unwrap();
            let t = load(&dir.join(name)).unwrap();
            assert_eq!(t, Table { columns: vec!["a".into()], rows: vec![vec![b("1")]] }, "{name}");
        }
        // JSON text in a .csv file is read as CSV: one column named `[{"a": "1"}]`.
        std::fs::write(dir.join("j.csv"), format!("{both}\n")).unwrap();
        assert_eq!(load(&dir.join("j.csv")).unwrap_err(), "has no rows");
        for name in ["missing.csv", "missing.json"] {
            let e = load(&dir.join(name)).unwrap_err();
            assert!(!e.contains("missing") && !e.is_empty(), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // ---- order ----

    #[test]
    fn orders_parse_and_print() {
        for o in [Order::PerUser, Order::Sequential, Order::Random, Order::Unique] {
            assert_eq!(Order::parse(o.as_str()), Ok(o));
            assert_eq!(o.to_string(), o.as_str());
        }
        assert_eq!(Order::default(), Order::PerUser);
        for bad in ["", "Random", "per_user", " unique", "circular"] {
            let e = Order::parse(bad).unwrap_err();
            assert_eq!(e, format!("order `{bad}`: use per-user, sequential, random or unique"));
        }
    }

    // ---- feeding ----

    /// Every slot's feeder for one order.
    fn feeders(order: Order, rows: usize, slots: usize) -> Vec<Feeder> {
        (0..slots).map(|s| Feeder::new(order, rows, s, slots)).collect()
    }

    #[test]
    fn per_user_keeps_row_u_mod_rows() {
        for rows in [1, 3, 7] {
            let f = Feeder::new(Order::PerUser, rows, 1, 4);
            assert!(!f.per_iteration() && !exhausted(&f));
            for u in (0..100).chain([u64::MAX - 1, u64::MAX]) {
                assert_eq!(f.for_user(u), Some((u % rows as u64) as usize));
            }
            assert_eq!(f.next(5), None);
            assert!(!exhausted(&f));
            assert_eq!(f.refused.get(), 0);
        }
    }

    #[test]
    fn per_iteration_orders_give_no_row_per_user() {
        for order in [Order::Sequential, Order::Random, Order::Unique] {
            let f = Feeder::new(order, 5, 0, 1);
            assert!(f.per_iteration());
            assert_eq!(f.for_user(3), None);
        }
    }

    #[test]
    fn sequential_alone_walks_the_table_in_order() {
        let f = Feeder::new(Order::Sequential, 3, 0, 1);
        let got: Vec<_> = (0..7).map(|i| f.next(i).unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        assert!(!exhausted(&f));
    }

    #[test]
    fn sequential_uses_rows_evenly_run_wide() {
        for slots in 1..=6 {
            for rows in 1..=14 {
                let fs = feeders(Order::Sequential, rows, slots);
                let mut used = vec![0u64; rows];
                // Slots take turns, so after each full round they have run the same number of
                // iterations; after every call, any two rows differ by at most one use.
                for call in 0..slots * rows * 4 + 3 {
                    let r = fs[call % slots].next(call as u64).unwrap();
                    used[r] += 1;
                    let (lo, hi) = (used.iter().min().unwrap(), used.iter().max().unwrap());
                    assert!(hi - lo <= 1, "rows {rows} slots {slots} call {call}: {used:?}");
                }
                assert!(used.iter().all(|&n| n >= 4), "rows {rows} slots {slots}: {used:?}");
            }
        }
    }

    #[test]
    fn sequential_slots_keep_to_their_partition_when_rows_divide_evenly() {
        for (rows, slots) in [(6, 2), (9, 3), (12, 4), (5, 5)] {
            for (s, f) in feeders(Order::Sequential, rows, slots).iter().enumerate() {
                let got: Vec<_> = (0..rows / slots * 2).map(|i| f.next(i as u64).unwrap()).collect();
                let own: Vec<_> = (s..rows).step_by(slots).collect();
                assert_eq!(got, [own.clone(), own].concat(), "rows {rows} slots {slots} slot {s}");
            }
        }
    }

    #[test]
    fn sequential_slot_alone_is_even_when_rows_and_slots_are_coprime() {
        // A slot whose worker runs faster than the others still spreads over every row.
        for (rows, slots) in [(7, 2), (10, 3), (5, 3), (2, 3), (1, 4)] {
            for (s, f) in feeders(Order::Sequential, rows, slots).iter().enumerate() {
                assert_eq!(f.next(0), Some(s % rows), "first row of slot {s}");
                let mut used = vec![0; rows];
                used[s % rows] += 1;
                for i in 1..rows * 3 {
                    used[f.next(i as u64).unwrap()] += 1;
                }
                assert_eq!(used, vec![3; rows], "rows {rows} slots {slots} slot {s}");
            }
        }
    }

    #[test]
    fn unique_uses_every_row_once_then_stops() {
        for slots in 1..=6 {
            for rows in 0..=15 {
                let fs = feeders(Order::Unique, rows, slots);
                let mut got = Vec::new();
                for (s, f) in fs.iter().enumerate() {
                    let mut own = Vec::new();
                    while let Some(r) = f.next(0) {
                        own.push(r);
                        assert!(own.len() <= rows, "slot {s} never stops");
                    }
                    assert_eq!(own, (s..rows).step_by(slots).collect::<Vec<_>>(), "rows {rows} slots {slots}");
                    assert_eq!(own.len(), crate::plan::split_even(rows, slots, s));
                    assert!(exhausted(f));
                    assert_eq!(f.refused.get(), 1);
                    assert_eq!((f.next(1), f.next(2)), (None, None));
                    assert_eq!(f.refused.get(), 3);
                    got.extend(own);
                }
                got.sort_unstable();
                assert_eq!(got, (0..rows).collect::<Vec<_>>(), "rows {rows} slots {slots}");
            }
        }
    }

    #[test]
    fn unique_slots_beyond_the_rows_own_none() {
        let fs = feeders(Order::Unique, 2, 5);
        assert!(!exhausted(&fs[0]) && !exhausted(&fs[1]));
        for f in &fs[2..] {
            assert!(exhausted(f));
            assert_eq!(f.next(0), None);
            assert_eq!(f.refused.get(), 1);
        }
        assert_eq!((fs[0].next(0), fs[0].next(0)), (Some(0), None));
        assert_eq!((fs[1].next(0), fs[1].next(0)), (Some(1), None));
    }

    #[test]
    fn random_stays_in_range_and_hits_every_row() {
        let mut rng = crate::rules::template::Rng::new(42);
        for rows in [1, 2, 7, 100] {
            let f = Feeder::new(Order::Random, rows, 1, 3);
            let mut used = vec![0u32; rows];
            for _ in 0..rows * 200 {
                used[f.next(rng.next_u64()).unwrap()] += 1;
            }
            assert!(used.iter().all(|&n| n > 100 && n < 300), "rows {rows}: {used:?}");
            assert!(!exhausted(&f));
        }
        let f = Feeder::new(Order::Random, 7, 0, 1);
        assert_eq!([f.next(0), f.next(13), f.next(u64::MAX)], [Some(0), Some(6), Some((u64::MAX % 7) as usize)]);
    }

    #[test]
    fn an_empty_table_gives_nothing() {
        for order in [Order::PerUser, Order::Sequential, Order::Random, Order::Unique] {
            let f = Feeder::new(order, 0, 0, 2);
            assert_eq!((f.for_user(0), f.next(0)), (None, None));
            assert!(exhausted(&f));
        }
    }

    #[test]
    fn odd_slot_numbers_do_not_panic() {
        // No slots counts as one; a slot number past the end wraps.
        let f = Feeder::new(Order::Unique, 3, 7, 0);
        assert_eq!([f.next(0), f.next(0), f.next(0), f.next(0)], [Some(0), Some(1), Some(2), None]);
        let f = Feeder::new(Order::Sequential, 4, 5, 2);
        assert_eq!([f.next(0), f.next(0), f.next(0)], [Some(1), Some(3), Some(1)]);
        // Huge tables and slot counts: no overflow.
        let f = Feeder::new(Order::Unique, usize::MAX, usize::MAX - 1, usize::MAX);
        assert_eq!([f.next(0), f.next(0)], [Some(usize::MAX - 1), None]);
        let f = Feeder::new(Order::Sequential, usize::MAX, usize::MAX - 2, usize::MAX - 1);
        assert_eq!(
            [f.next(0), f.next(0), f.next(0)],
            [Some(usize::MAX - 2), Some(usize::MAX - 3), Some(usize::MAX - 4)]
        );
        let f = Feeder::new(Order::Random, usize::MAX, 0, 1);
        assert_eq!(f.next(u64::MAX), Some((u64::MAX % usize::MAX as u64) as usize));
    }
}
