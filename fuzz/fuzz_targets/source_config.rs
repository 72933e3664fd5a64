//! HOOKBRIDGE_SOURCES: parsing never panics and is deterministic; an
//! accepted configuration written back in its documented JSON form parses
//! to the same configuration; a refused source is named by the error.
//!
//! Input: the JSON text.
#![no_main]

use hookbridge_core::config::{ConfigError, MacEncoding, SourceKind, Sources};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

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
            let written = documented_form(&sources);
            assert_eq!(
                Sources::from_json(&written),
                Ok(sources),
                "the written form changed meaning: {written}"
            );
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

/// The configuration in the JSON form operators write, every option spelt out.
fn documented_form(sources: &Sources) -> String {
    let mut object = Map::new();
    for (name, config) in sources.iter() {
        let mut options = match &config.kind {
            SourceKind::Stripe { tolerance } => {
                json!({"kind": "stripe", "tolerance_seconds": tolerance.as_secs()})
            }
            SourceKind::Standard { tolerance } => {
                json!({"kind": "standard", "tolerance_seconds": tolerance.as_secs()})
            }
            SourceKind::Github => json!({"kind": "github"}),
            SourceKind::MoneyButton => json!({"kind": "moneybutton"}),
            SourceKind::Hmac(scheme) => json!({
                "kind": "hmac",
                "header": scheme.header,
                "prefix": scheme.prefix,
                "encoding": match scheme.encoding {
                    MacEncoding::Hex => "hex",
                    MacEncoding::Base64 => "base64",
                },
                "id_header": scheme.id_header,
                "type_header": scheme.type_header,
                "type_pointer": scheme.type_pointer,
            }),
        };
        if let Some(pointer) = &config.object_pointer {
            options["object_pointer"] = json!(pointer);
        }
        object.insert(name.to_owned(), options);
    }
    serde_json::to_string(&object).expect("serialises")
}
