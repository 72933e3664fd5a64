//! The machine's clock, the only one production uses (tests use
//! hookbridge-testkit's `ManualClock`).

use std::time::SystemTime;

use hookbridge_core::ports::Clock;

/// The wall clock of the machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_after_the_epoch() {
        assert!(SystemClock.now() > SystemTime::UNIX_EPOCH);
    }
}
