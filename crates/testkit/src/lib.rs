//! hookbridge-testkit: what the tests of every crate share. In-memory
//! doubles of the ports in `hookbridge_core::ports`, builders of envelopes,
//! and one scriptable loopback HTTP target. Only ever a dev-dependency, so
//! no production crate's public API carries a double.

pub mod http_target;
