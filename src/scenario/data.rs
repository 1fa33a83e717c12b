//! A user type's `data`: a CSV file or a JSON array of objects, loaded into variable slots, and
//! the order its rows are fed in (`per-user`, `sequential`, `random`, `unique`).

use toml::Spanned;

use super::{Compiler, raw};
use crate::error::PlanError;
use crate::feeder::Order;
use crate::plan::DataSet;

impl Compiler<'_> {
    pub(super) fn data(&mut self, d: &Spanned<raw::DataSpec>) -> Result<DataSet, PlanError> {
        let (rel, order) = match d.get_ref() {
            raw::DataSpec::File(f) => (f.as_str(), Order::PerUser),
            raw::DataSpec::Table { file, order } => {
                let order = match order {
                    Some(o) => Order::parse(o.get_ref()).or_else(|e| self.err(o.span(), e))?,
                    None => Order::PerUser,
                };
                (file.as_str(), order)
            }
        };
        let path = self.src.dir.join(rel);
        let table = crate::feeder::load(&path)
            .or_else(|e| self.err(d.span(), format!("data file `{}`: {e}", path.display())))?;
        let vars = table.columns.iter().map(|c| self.slot(c)).collect();
        Ok(DataSet { path: path.display().to_string(), vars, rows: table.rows, order })
    }
}
