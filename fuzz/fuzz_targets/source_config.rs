//! HOOKBRIDGE_SOURCES: parsing never panics and is deterministic; every
//! accepted source has the kind its input names; a refused source is named
//! by the error.
//!
//! Input: the JSON text.
#![no_main]

use hookbridge_core::config::{ConfigError, Sources};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = Sources::from_json(text);
    assert_eq!(
        Sources::from_json(text),
        result,
        "parsing is not deterministic"
    );
    match result {
        Ok(sources) => {
            let value: Map<String, Value> = serde_json::from_str(text).expect("an object");
            for (name, config) in sources.iter() {
                assert_eq!(
                    value[name]["kind"].as_str(),
                    Some(config.kind().name()),
                    "source `{name}` changed kind"
                );
            }
        }
        Err(
            ConfigError::InvalidName(name)
            | ConfigError::InvalidSource {
                source_name: name, ..
            },
        ) => {
            let value: Map<String, Value> =
                serde_json::from_str(text).expect("a named source comes from a JSON object");
            assert!(
                value.contains_key(&name),
                "the error names `{name}`, not a source of the input"
            );
        }
        Err(ConfigError::Empty) => {
            let value: Map<String, Value> = serde_json::from_str(text).expect("an object");
            assert!(value.is_empty());
        }
        Err(ConfigError::NotAnObject(message)) => assert!(!message.is_empty()),
    }
});
