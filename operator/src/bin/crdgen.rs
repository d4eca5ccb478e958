//! Prints the GeminiCluster CustomResourceDefinition as YAML: `crds/geminicluster.yaml` is this
//! output, and a test fails when the two differ.

fn main() {
    print!("{}", operator::crd::crd_yaml());
}
