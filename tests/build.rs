//! Turns the development secrets of `dev-sources.toml` (the repository's one
//! copy of them) into constants for the tests, so a test signs with exactly
//! what `hookbridge dev` verifies with: `<SOURCE>_SECRET` per source,
//! `OUTBOUND_SECRET`, and `DEVELOPMENT_SECRETS`, all of them.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dev-sources.toml");
    println!("cargo::rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let config: toml::Table = text
        .parse()
        .unwrap_or_else(|error| panic!("{} is not TOML: {error}", path.display()));

    let mut constants = Vec::new();
    let sources = config
        .get("sources")
        .and_then(toml::Value::as_table)
        .expect("dev-sources.toml has a [sources] table");
    for (name, source) in sources {
        constants.push((
            format!("{}_SECRET", name.to_uppercase()),
            only_secret(&source["secrets"], &format!("sources.{name}.secrets")),
        ));
    }
    constants.push((
        "OUTBOUND_SECRET".to_owned(),
        only_secret(&config["outbound_secrets"], "outbound_secrets"),
    ));

    let mut code = String::new();
    for (constant, secret) in &constants {
        writeln!(code, "pub const {constant}: &str = {secret:?};").unwrap();
    }
    let names: Vec<&str> = constants.iter().map(|(name, _)| name.as_str()).collect();
    writeln!(
        code,
        "/// Every development secret `hookbridge dev` configures itself with.\n\
         pub const DEVELOPMENT_SECRETS: [&str; {}] = [{}];",
        names.len(),
        names.join(", ")
    )
    .unwrap();
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dev_sources.rs");
    std::fs::write(&out, code)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", out.display()));
}

/// A development source verifies with one secret: the one tests sign with.
fn only_secret(list: &toml::Value, key: &str) -> String {
    match list.as_array().map(Vec::as_slice) {
        Some([toml::Value::String(secret)]) => secret.clone(),
        _ => panic!("dev-sources.toml: `{key}` must hold exactly one secret"),
    }
}
