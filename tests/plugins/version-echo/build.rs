// Rebuild when the version baked into the component changes.
fn main() {
    println!("cargo:rerun-if-env-changed=AUTBOT_TEST_VERSION");
}
