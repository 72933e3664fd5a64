//! Every integration test of hookbridge in one test binary, so that the AWS
//! SDK and the functions are linked once instead of once per file. Each file
//! beside this one is a module of it (tests/Cargo.toml: `autotests = false`).

mod cli_output;
mod consume;
mod deliver;
mod destinations;
mod dev_aws;
mod dev_console;
mod dev_console_browser;
mod dev_crash;
mod dev_destinations;
mod dev_e2e;
mod dev_horizon;
mod dev_hostile;
mod eventbridge;
mod faults;
mod horizon_aws;
mod ingest;
mod payloads;
mod providers;
mod replay;
mod ssm;
mod support;
mod template;

/// With autotests off, a test file not named above would silently never
/// be compiled or run.
#[test]
fn every_test_file_is_a_module_of_the_binary() {
    let root = include_str!("integration.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    for entry in std::fs::read_dir(dir).expect("the tests directory is readable") {
        let path = entry.expect("a directory entry").path();
        let Some(module) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|extension| extension == "rs") && module != "integration" {
            assert!(
                root.contains(&format!("\nmod {module};\n")),
                "tests/tests/{module}.rs is not a module of tests/tests/integration.rs"
            );
        }
    }
}
