//! How InfluxQL names map onto stored series in one database: field `value` of measurement
//! `m` is the series `m`, any other field `f` that line protocol wrote is the series `m_f`.
//! Series nobody registered as a field are measurements of their own with field `value`.

use super::AppState;
use crate::index::matcher::Matcher;
use crate::storage::fields::Fields;
use std::collections::HashMap;

pub struct FieldMap {
    fields: Fields,
    by_series: HashMap<String, (String, String)>,
}

impl FieldMap {
    pub fn load(state: &AppState, db: &str) -> Result<FieldMap, String> {
        let fields = state.storage.line_fields(db).map_err(|e| e.to_string())?;
        let by_series = fields
            .iter()
            .flat_map(|(m, fs)| fs.iter().filter(|f| *f != "value").map(move |f| (format!("{m}_{f}"), (m.clone(), f.clone()))))
            .collect();
        Ok(FieldMap { fields, by_series })
    }

    /// The measurement a series name belongs to.
    pub fn measurement_of<'a>(&'a self, series_name: &'a str) -> &'a str {
        self.by_series.get(series_name).map(|(m, _)| m.as_str()).unwrap_or(series_name)
    }

    /// The series name holding field `field` of `measurement`.
    pub fn series_name(measurement: &str, field: &str) -> String {
        if field == "value" { measurement.to_string() } else { format!("{measurement}_{field}") }
    }

    /// Selects every series of `measurement` (all its fields), or of every measurement.
    pub fn matcher(&self, measurement: Option<&str>) -> Result<Matcher, String> {
        let Some(m) = measurement else { return Matcher::new(2, "__name__", ".+") };
        let mut names = vec![regex::escape(m)];
        names.extend(self.fields.get(m).into_iter().flatten().filter(|f| *f != "value").map(|f| regex::escape(&Self::series_name(m, f))));
        Matcher::new(2, "__name__", &names.join("|"))
    }

    /// The fields of `measurement`: those line protocol wrote, and `value` when the series
    /// `measurement` itself exists (as for everything Prometheus writes).
    pub fn fields_of(&self, measurement: &str, has_value_series: bool) -> Vec<String> {
        let mut out: Vec<String> = self.fields.get(measurement).into_iter().flatten().cloned().collect();
        if has_value_series && !out.iter().any(|f| f == "value") {
            out.push("value".into());
            out.sort();
        }
        out
    }
}
