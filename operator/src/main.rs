//! gemini-operator: will reconcile `GeminiCluster` objects into the Kubernetes objects that run
//! Gemini (see the operator issue). Until the reconciler lands it only says so: the CRD
//! (`crdgen`) is what exists. It depends on the engine only through its flags, config keys
//! and port (8086).

fn main() {
    eprintln!("gemini-operator: the reconciler is not built yet; `crdgen` prints the GeminiCluster CRD");
    std::process::exit(2);
}
