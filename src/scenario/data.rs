//! A user type's `data`: a CSV file or a JSON array of objects, loaded into variable slots, and
//! the order its rows are fed in (`per-user`, `sequential`, `random`, `unique`).

use toml::Spanned;

use super::Compiler;
use crate::error::PlanError;
use crate::feeder::Order;
use crate::plan::DataSet;

impl Compiler<'_> {
    /// `data = "users.csv"` or `data = { file = "users.csv", order = "unique" }`.
    pub(super) fn data(&mut self, d: &Spanned<toml::Value>) -> Result<DataSet, PlanError> {
        const FORMS: &str = "write `data = \"users.csv\"` or `data = { file = \"users.csv\", order = \"sequential\" }`";
        let (rel, order) = match d.get_ref() {
            toml::Value::String(f) => (f.as_str(), Order::PerUser),
            toml::Value::Table(t) => {
                if let Some(key) = t.keys().find(|k| !["file", "order"].contains(&k.as_str())) {
                    return self.err(d.span(), format!("data: unknown key `{key}` ({FORMS})"));
                }
                let Some(toml::Value::String(file)) = t.get("file") else {
                    return self.err(d.span(), format!("data needs `file` as a string ({FORMS})"));
                };
                let order = match t.get("order") {
                    Some(toml::Value::String(o)) => {
                        Order::parse(o).or_else(|e| self.err(d.span(), format!("data: {e}")))?
                    }
                    Some(_) => {
                        return self
                            .err(d.span(), "data: `order` is a string (per-user, sequential, random or unique)");
                    }
                    None => Order::PerUser,
                };
                (file.as_str(), order)
            }
            _ => return self.err(d.span(), format!("data: {FORMS}")),
        };
        let path = self.src.part(&d.span()).dir.join(rel);
        let table = crate::feeder::load(&path)
            .or_else(|e| self.err(d.span(), format!("data file `{}`: {e}", path.display())))?;
        let vars = table.columns.iter().map(|c| self.slot(c)).collect();
        Ok(DataSet { vars, rows: table.rows, order })
    }
}
