//! How InfluxQL names map onto stored series in one database: field `value` of measurement
//! `m` is the series `m`, any other field `f` that line protocol wrote is the series `m_f`.
//! Series nobody registered as a field are measurements of their own with field `value`.
//! Those are what Prometheus wrote, and they keep `__name__` as a tag, as InfluxDB 1.x and
//! openGemini show Prometheus data; series line protocol wrote have only their tags.

use crate::data::Catalog;
use crate::index::matcher::{self, MatchKind, Matcher};
use crate::data::schema::Fields;
use std::collections::HashMap;

pub struct FieldMap {
    fields: Fields,
    by_series: HashMap<String, (String, String)>,
}

impl FieldMap {
    pub fn load(catalog: &dyn Catalog, db: &str) -> Result<FieldMap, crate::data::StoreError> {
        let fields = catalog.line_fields(db)?;
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

    /// Whether the series named `series_name` holds a field line protocol wrote.
    fn is_line_protocol(&self, series_name: &str) -> bool {
        self.by_series.contains_key(series_name) || self.fields.get(series_name).is_some_and(|fs| fs.contains("value"))
    }

    /// The tags of a series, as InfluxQL shows them: its labels without `__name__`, except for
    /// series Prometheus wrote, which keep it. In label (byte) order.
    pub fn tags<'a>(&self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
        let labels: Vec<(&str, &str)> = labels.into_iter().collect();
        let name = labels.iter().find(|(n, _)| *n == "__name__").map(|(_, v)| *v).unwrap_or("");
        let keep_name = !self.is_line_protocol(name);
        labels.into_iter().filter(|(n, _)| *n != "__name__" || keep_name).collect()
    }

    /// The series name holding field `field` of `measurement`.
    pub fn series_name(measurement: &str, field: &str) -> String {
        if field == "value" { measurement.to_string() } else { format!("{measurement}_{field}") }
    }

    /// Selects every series of `measurement` (all its fields), or of every measurement.
    pub fn matcher(&self, measurement: Option<&str>) -> Result<Matcher, matcher::Error> {
        let Some(m) = measurement else { return Matcher::new(MatchKind::Regex, "__name__", ".+") };
        let mut names = vec![regex::escape(m)];
        names.extend(self.fields.get(m).into_iter().flatten().filter(|f| *f != "value").map(|f| regex::escape(&Self::series_name(m, f))));
        Matcher::new(MatchKind::Regex, "__name__", &names.join("|"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_series_keep_name_as_a_tag_and_line_protocol_series_do_not() {
        let fields: Fields = [("cpu".to_string(), ["value", "usage"].iter().map(|f| f.to_string()).collect())].into();
        let by_series = [("cpu_usage".to_string(), ("cpu".to_string(), "usage".to_string()))].into();
        let map = FieldMap { fields, by_series };
        let up = [("__name__", "up"), ("instance", "a:9100"), ("job", "node")];
        assert_eq!(map.tags(up), vec![("__name__", "up"), ("instance", "a:9100"), ("job", "node")]);
        assert_eq!(map.tags([("__name__", "cpu"), ("host", "a")]), vec![("host", "a")]);
        assert_eq!(map.tags([("__name__", "cpu_usage"), ("host", "a")]), vec![("host", "a")]);
        assert_eq!(map.tags([("A", "x"), ("__name__", "up")]), vec![("A", "x"), ("__name__", "up")], "label (byte) order");
    }
}
