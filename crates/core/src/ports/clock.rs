use std::time::SystemTime;

/// Where "now" comes from, so rules that depend on time stay testable.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}
