//! Data feeders: load a CSV file or a JSON array of objects into a [`Table`] of rows for users'
//! variables.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
