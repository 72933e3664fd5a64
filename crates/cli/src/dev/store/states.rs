//! The states the store's TEXT columns hold. Each is written and read as its
//! enum, so an unknown value in the database is an error, never a silent
//! default.

use hookbridge_core::delivery_status;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// A state column held a value this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {state} `{value}` in the database")]
pub struct UnknownState {
    state: &'static str,
    value: String,
}

/// Declares a state enum with its stored form (`as_str`), its parse, and
/// its SQLite conversions, so each value has one spelling.
macro_rules! stored_state {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $($(#[$variant_meta:meta])* $variant:ident => $stored:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            #[cfg(test)]
            pub const ALL: &[Self] = &[$(Self::$variant,)+];

            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $stored,)+
                }
            }

            fn parse(stored: &str) -> Result<Self, UnknownState> {
                match stored {
                    $($stored => Ok(Self::$variant),)+
                    value => Err(UnknownState {
                        state: $what,
                        value: value.to_owned(),
                    }),
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                Self::parse(value.as_str()?).map_err(|unknown| FromSqlError::Other(Box::new(unknown)))
            }
        }
    };
}

stored_state! {
    /// Where the persist route stands with an event (`bus_events.consume_state`).
    ConsumeState ("consume state") {
        /// Not yet recorded by the consumer.
        Pending => "pending",
        Stored => "stored",
        /// Refused for good by the consumer; not handed over again.
        Failed => "failed",
    }
}

stored_state! {
    /// Where a delivery to one destination stands (`deliveries.status`),
    /// spelt as the core's [`delivery_status::DeliveryState`].
    DeliveryState ("delivery state") {
        /// Not attempted yet; its first attempt is due at `due_at_ms`.
        Pending => "pending",
        /// An attempt failed; the next one is due at `due_at_ms`.
        Retrying => "retrying",
        Delivered => "delivered",
        /// Every attempt of its schedule failed; `hookbridge replay` re-queues it.
        DeadLettered => "dead_lettered",
    }
}

impl From<DeliveryState> for delivery_status::DeliveryState {
    fn from(state: DeliveryState) -> Self {
        match state {
            DeliveryState::Pending => Self::Pending,
            DeliveryState::Retrying => Self::Retrying,
            DeliveryState::Delivered => Self::Delivered,
            DeliveryState::DeadLettered => Self::DeadLettered,
        }
    }
}

stored_state! {
    /// How one delivery attempt ended (`attempts.outcome`, and the JSON of
    /// `GET /events`).
    AttemptOutcome ("attempt outcome") {
        Delivered => "delivered",
        Failed => "failed",
    }
}

impl serde::Serialize for AttemptOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// Writes `value` to a TEXT column and reads it back as `T`.
    fn round_trip<T: ToSql + FromSql>(
        connection: &Connection,
        value: &dyn ToSql,
    ) -> rusqlite::Result<T> {
        connection.query_row("SELECT ?1", [value], |row| row.get(0))
    }

    #[test]
    fn states_round_trip_through_their_stored_form() {
        let connection = Connection::open_in_memory().unwrap();
        for state in ConsumeState::ALL {
            assert_eq!(
                round_trip::<ConsumeState>(&connection, state).unwrap(),
                *state
            );
        }
        for state in DeliveryState::ALL {
            assert_eq!(
                round_trip::<DeliveryState>(&connection, state).unwrap(),
                *state
            );
            assert_eq!(
                serde_json::to_value(delivery_status::DeliveryState::from(*state)).unwrap(),
                serde_json::json!(state.as_str()),
                "stored as the core spells it"
            );
        }
        for outcome in AttemptOutcome::ALL {
            assert_eq!(
                round_trip::<AttemptOutcome>(&connection, outcome).unwrap(),
                *outcome
            );
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                serde_json::json!(outcome.as_str())
            );
        }
    }

    #[test]
    fn an_unknown_stored_value_is_an_error() {
        let connection = Connection::open_in_memory().unwrap();
        let read = round_trip::<DeliveryState>(&connection, &"lost");
        assert!(
            matches!(read, Err(rusqlite::Error::FromSqlConversionFailure(..))),
            "{read:?}"
        );
        assert_eq!(
            DeliveryState::parse("lost").unwrap_err().to_string(),
            "unknown delivery state `lost` in the database"
        );
        assert!(ConsumeState::parse("Stored").is_err(), "case matters");
    }
}
