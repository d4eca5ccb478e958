//! A read of a downsampled tier through the data interface (`SeriesStore::select_tier`): the
//! tier's windows (`encoding::rollup::Window`) of the series a selection matches, and the
//! time before which the tier holds every sample, so that a reader takes the tier up to
//! there and raw data after it.

use crate::encoding::rollup::Window;
use crate::labels::Labels;

/// The windows of the series matching a selection that overlap its time range.
#[derive(Debug)]
pub struct TierAnswer {
    /// Series in label order, each with its windows in start order; series without a window
    /// in the range are left out.
    pub series: Vec<(Labels, Vec<Window>)>,
    /// Every sample before this time (ms) is in the tier; later ones are read raw. `i64::MIN`:
    /// the tier holds nothing yet.
    pub through: i64,
}

impl Default for TierAnswer {
    /// The answer of a store that holds no tier: read everything raw.
    fn default() -> TierAnswer {
        TierAnswer { series: Vec::new(), through: i64::MIN }
    }
}
