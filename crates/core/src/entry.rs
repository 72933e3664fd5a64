//! The size of an EventBridge PutEvents entry, computed as EventBridge
//! computes it, so an oversized event is refused with 413 up front instead of
//! failing on the bus (or being truncated).

use crate::ports::BusEvent;

/// EventBridge's limit for one entry (and for a whole PutEvents request).
pub const MAX_ENTRY_SIZE: usize = 256 * 1024;

/// Bytes EventBridge counts for `event`: the UTF-8 lengths of Source,
/// DetailType and Detail (Time, when set, would add 14; Resources their
/// lengths; hookbridge sets neither).
pub fn entry_size(event: &BusEvent) -> usize {
    event.source.len() + event.detail_type.len() + event.detail.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_counts_utf8_bytes_of_every_field() {
        let event = BusEvent {
            source: "hookbridge.stripe".into(),
            detail_type: "é".into(),
            detail: "{\"a\":\"€\"}".into(),
        };
        assert_eq!(entry_size(&event), 17 + 2 + 11);
    }
}
