//! The sealed-block encoding as a stored piece, decoded and encoded by `encoding::block`.

use super::Error;
use crate::encoding::block;

pub(super) fn each(bytes: &[u8], f: impl FnMut(i64, f64)) -> Result<(), Error> {
    block::decode_each(bytes, f).map_err(Error::Block)
}

pub(super) fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    block::encode(samples)
}
