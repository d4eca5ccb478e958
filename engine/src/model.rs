//! The vocabulary shared by the layers: what storage keeps, what the query languages name and
//! what the configuration sets. Nothing here parses or stores; storage, query and config all
//! use these types, so none of them depends on another for them.

use serde::{Deserialize, Serialize};

/// A privilege on a database, as `GRANT` names it. Its serde form is stored with each user
/// (`storage::users`): renaming a variant changes the data format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Privilege {
    Read,
    Write,
    All,
}

impl Privilege {
    pub fn allows(self, wanted: Privilege) -> bool {
        self == Privilege::All || self == wanted
    }

    /// As `SHOW GRANTS` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL PRIVILEGES",
        }
    }
}

/// What a statement or the configuration sets on a retention policy; `None` leaves a setting
/// as it is (or at its default for a new policy). Durations in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyOptions {
    pub duration: Option<i64>,
    pub shard_duration: Option<i64>,
    pub replication: Option<u32>,
    pub default: bool,
    /// How long each downsampled tier keeps data (`Tier::ALL` order: 5m, 1h); 0 forever.
    pub tier_durations: [Option<i64>; 2],
}

/// Nanoseconds of a duration unit, as InfluxQL and the configuration write them.
pub fn unit_nanos(unit: &str) -> Option<i64> {
    Some(match unit {
        "ns" => 1,
        "u" | "µ" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 604_800_000_000_000,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_keep_their_stored_form() {
        assert_eq!(serde_json::to_string(&[Privilege::Read, Privilege::Write, Privilege::All]).unwrap(), r#"["Read","Write","All"]"#);
        assert!(Privilege::All.allows(Privilege::Write));
        assert!(!Privilege::Read.allows(Privilege::Write));
    }

    #[test]
    fn units() {
        assert_eq!(unit_nanos("w"), Some(7 * 86_400_000_000_000));
        assert_eq!(unit_nanos("µ"), Some(1_000));
        assert_eq!(unit_nanos("y"), None);
    }
}
