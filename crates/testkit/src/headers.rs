/// Request headers from `(name, value)` pairs, in order (a repeated name is
/// kept twice, as a client would send it).
///
/// # Panics
/// When a name or value is not valid in HTTP.
pub fn header_map(pairs: &[(&str, &str)]) -> http::HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                http::HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
                value.parse().expect("a valid header value"),
            )
        })
        .collect()
}
