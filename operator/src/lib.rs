//! The Gemini operator: the `GeminiCluster` resource (`crd`). The reconciler that turns it into
//! StatefulSets, Services and Prometheus wiring is built on top of these types.

pub mod crd;
pub mod resources;
