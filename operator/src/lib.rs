//! The Gemini operator: the `GeminiCluster` resource (`crd`), the pure builders of the objects
//! it owns (`resources`) and of its Prometheus `remoteWrite`/`remoteRead` entries (`wiring`).
//! The reconciler that applies them is still to come.

pub mod crd;
pub mod resources;
pub mod wiring;
