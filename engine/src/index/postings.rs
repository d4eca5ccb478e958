//! The in-memory inverted label index of one shard: database → label name → value →
//! sorted series ids. The shard that owns it persists every entry in its postings column
//! family and rebuilds this from there at start; nothing else touches it.

use super::matcher::Matcher;
use crate::labels::Labels;
use std::collections::HashMap;

#[derive(Default)]
struct DbPostings {
    by_label: HashMap<Box<str>, HashMap<Box<str>, Vec<u64>>>,
    all: Vec<u64>,
}

#[derive(Default)]
pub struct Postings {
    by_db: HashMap<u32, DbPostings>,
}

/// Merges sorted id lists into one sorted list without duplicates.
fn union(lists: Vec<&Vec<u64>>) -> Vec<u64> {
    let mut out: Vec<u64> = lists.into_iter().flatten().copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Appends keeping order; ids are usually allocated increasing, so this is a push.
fn insert_sorted(list: &mut Vec<u64>, id: u64) {
    match list.last() {
        Some(&last) if last >= id => {
            if let Err(pos) = list.binary_search(&id) {
                list.insert(pos, id);
            }
        }
        _ => list.push(id),
    }
}

impl Postings {
    /// Indexes a series under each of its labels.
    pub fn add(&mut self, db: u32, id: u64, labels: &Labels) {
        self.add_series(db, id);
        for (name, value) in labels.iter() {
            self.add_entry(db, name, value, id);
        }
    }

    /// Records that a series exists (for matchers that every series may match).
    pub fn add_series(&mut self, db: u32, id: u64) {
        insert_sorted(&mut self.by_db.entry(db).or_default().all, id);
    }

    /// Records one label of a series, as read back from the postings column family.
    pub fn add_entry(&mut self, db: u32, name: &str, value: &str, id: u64) {
        let values = self.by_db.entry(db).or_default().by_label.entry(name.into()).or_default();
        insert_sorted(values.entry(value.into()).or_default(), id);
    }

    /// Forgets series given as (database, id, labels), and every label value left without
    /// series: one pass over each list touched, however many series go.
    pub fn remove(&mut self, gone: &[(u32, u64, &Labels)]) {
        let mut by_db: HashMap<u32, (std::collections::HashSet<u64>, std::collections::HashSet<(&str, &str)>)> = HashMap::new();
        for (db, id, labels) in gone {
            let (ids, pairs) = by_db.entry(*db).or_default();
            ids.insert(*id);
            pairs.extend(labels.iter());
        }
        for (db, (ids, pairs)) in by_db {
            let Some(p) = self.by_db.get_mut(&db) else { continue };
            p.all.retain(|i| !ids.contains(i));
            for (name, value) in pairs {
                let Some(values) = p.by_label.get_mut(name) else { continue };
                if let Some(list) = values.get_mut(value) {
                    list.retain(|i| !ids.contains(i));
                    if list.is_empty() {
                        values.remove(value);
                    }
                }
                if values.is_empty() {
                    p.by_label.remove(name);
                }
            }
        }
    }

    pub fn remove_db(&mut self, db: u32) {
        self.by_db.remove(&db);
    }

    /// Candidate series for the matchers: a superset of the answer whenever some matcher
    /// matches the empty value (those are not narrowed here); the caller checks each
    /// candidate's labels against every matcher.
    pub fn candidates(&self, db: u32, matchers: &[Matcher]) -> Vec<u64> {
        let Some(p) = self.by_db.get(&db) else { return Vec::new() };
        let mut result: Option<Vec<u64>> = None;
        for m in matchers.iter().filter(|m| !m.matches_empty()) {
            let lists: Vec<&Vec<u64>> = match p.by_label.get(m.name.as_str()) {
                None => Vec::new(),
                Some(values) => match &m.op {
                    super::matcher::MatchOp::Equal(v) => values.get(v.as_str()).into_iter().collect(),
                    _ => values.iter().filter(|(v, _)| m.matches_value(v)).map(|(_, ids)| ids).collect(),
                },
            };
            let ids = union(lists);
            result = Some(match result {
                None => ids,
                Some(prev) => intersect(&prev, &ids),
            });
            if result.as_ref().is_some_and(|r| r.is_empty()) {
                break;
            }
        }
        result.unwrap_or_else(|| p.all.clone())
    }

    /// Every label name of the database's series that `keep` keeps (by id), unsorted: a name
    /// counts once one series under one of its values is kept.
    pub fn label_names(&self, db: u32, keep: impl Fn(u64) -> bool) -> Vec<String> {
        let Some(p) = self.by_db.get(&db) else { return Vec::new() };
        p.by_label.iter().filter(|(_, values)| values.values().any(|ids| ids.iter().any(|id| keep(*id)))).map(|(name, _)| name.to_string()).collect()
    }

    /// Every value of label `name` held by a series that `keep` keeps (by id), unsorted.
    pub fn label_values(&self, db: u32, name: &str, keep: impl Fn(u64) -> bool) -> Vec<String> {
        let Some(values) = self.by_db.get(&db).and_then(|p| p.by_label.get(name)) else { return Vec::new() };
        values.iter().filter(|(_, ids)| ids.iter().any(|id| keep(*id))).map(|(v, _)| v.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::matcher::MatchKind;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_sorted(pairs.iter().copied())
    }

    fn index() -> Postings {
        let mut p = Postings::default();
        p.add(1, 1, &l(&[("__name__", "up"), ("job", "node")]));
        p.add(1, 2, &l(&[("__name__", "up"), ("job", "prometheus")]));
        p.add(1, 3, &l(&[("__name__", "go_goroutines"), ("job", "prometheus")]));
        p.add(2, 4, &l(&[("__name__", "up"), ("job", "node")]));
        p
    }

    #[test]
    fn intersects_and_unions() {
        let p = index();
        let m = |k, n, v| Matcher::new(k, n, v).unwrap();
        assert_eq!(p.candidates(1, &[m(MatchKind::Equal, "__name__", "up")]), vec![1, 2]);
        assert_eq!(p.candidates(1, &[m(MatchKind::Equal, "__name__", "up"), m(MatchKind::Equal, "job", "prometheus")]), vec![2]);
        assert_eq!(p.candidates(1, &[m(MatchKind::Regex, "__name__", "up|go_.*")]), vec![1, 2, 3]);
        assert_eq!(p.candidates(1, &[m(MatchKind::NotEqual, "job", "node")]), vec![1, 2, 3], "superset, caller filters");
        assert_eq!(p.candidates(1, &[m(MatchKind::Equal, "nope", "x")]), Vec::<u64>::new());
        assert_eq!(p.candidates(2, &[m(MatchKind::Equal, "__name__", "up")]), vec![4]);
        assert_eq!(sorted(p.label_values(1, "__name__", |_| true)), vec!["go_goroutines", "up"]);
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    /// Names and values come from the index, each kept once any of its series is kept.
    #[test]
    fn names_and_values_of_kept_series() {
        let p = index();
        assert_eq!(sorted(p.label_names(1, |_| true)), vec!["__name__", "job"]);
        assert_eq!(sorted(p.label_names(1, |id| id == 3)), vec!["__name__", "job"]);
        assert!(p.label_names(1, |id| id == 4).is_empty(), "series 4 is in database 2");
        assert_eq!(sorted(p.label_values(1, "job", |id| id != 1)), vec!["prometheus"]);
        assert_eq!(sorted(p.label_values(1, "__name__", |id| id == 1)), vec!["up"]);
        assert!(p.label_values(1, "nope", |_| true).is_empty());
        assert!(p.label_values(7, "job", |_| true).is_empty());
    }

    #[test]
    fn out_of_order_ids_stay_sorted() {
        let mut p = Postings::default();
        p.add(1, 5, &l(&[("a", "b")]));
        p.add(1, 3, &l(&[("a", "b")]));
        p.add(1, 5, &l(&[("a", "b")]));
        assert_eq!(p.candidates(1, &[Matcher::new(MatchKind::Equal, "a", "b").unwrap()]), vec![3, 5]);
    }

    #[test]
    fn removed_series_and_empty_values_are_gone() {
        let mut p = index();
        p.remove(&[(1, 1, &l(&[("__name__", "up"), ("job", "node")]))]);
        assert_eq!(sorted(p.label_values(1, "job", |_| true)), vec!["prometheus"]);
        assert_eq!(p.candidates(1, &[Matcher::new(MatchKind::Equal, "__name__", "up").unwrap()]), vec![2]);
        assert_eq!(p.candidates(1, &[Matcher::new(MatchKind::NotEqual, "job", "x").unwrap()]), vec![2, 3]);
        p.remove(&[(1, 3, &l(&[("__name__", "go_goroutines"), ("job", "prometheus")]))]);
        assert_eq!(sorted(p.label_values(1, "__name__", |_| true)), vec!["up"]);
    }

    #[test]
    fn drop_db_forgets_it() {
        let mut p = index();
        p.remove_db(1);
        assert!(p.label_values(1, "__name__", |_| true).is_empty());
        assert_eq!(p.label_values(2, "__name__", |_| true), vec!["up"]);
    }
}
