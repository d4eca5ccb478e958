//! The sealed-block encoding as a stored piece: blocks in the `blocks` family, decoded and
//! encoded by `storage::block`.

use crate::storage::family::Family;
use crate::storage::{block, Error};

pub(super) const FAMILY: Family = Family::Blocks;

pub(super) fn each(bytes: &[u8], f: impl FnMut(i64, f64)) -> Result<(), Error> {
    block::decode_each(bytes, f).map_err(|e| Error::Corrupt(format!("block: {e}")))
}

pub(super) fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    block::encode(samples)
}
