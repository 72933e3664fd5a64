//! Which destination a message is for: each destination's SNS subscription
//! posts to the function URL with `?destination=<name>`.

/// The query parameter naming the destination.
pub const DESTINATION_PARAMETER: &str = "destination";

/// The destination named by `query` (the request URL's query, without the
/// `?`), or `None` when it names none or names it more than once (SNS posts
/// the endpoint exactly as subscribed, so either is a foreign request).
/// Names are `[a-z0-9_-]`, so an encoded value is no name: it is not decoded.
pub fn requested_destination(query: Option<&str>) -> Option<&str> {
    let mut named = query?.split('&').filter_map(|pair| {
        pair.split_once('=')
            .filter(|(key, _)| *key == DESTINATION_PARAMETER)
            .map(|(_, value)| value)
    });
    let name = named.next()?;
    named.next().is_none().then_some(name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_destination_is_read_from_the_query() {
        assert_eq!(
            requested_destination(Some("destination=billing")),
            Some("billing")
        );
        assert_eq!(
            requested_destination(Some("a=1&destination=crm&b=2")),
            Some("crm")
        );
    }

    #[test]
    fn no_single_destination_is_none() {
        for query in [
            None,
            Some(""),
            Some("destination"),
            Some("dest=billing"),
            Some("xdestination=billing"),
            Some("destination=a&destination=b"),
            Some("destination=a&destination=a"),
        ] {
            assert_eq!(requested_destination(query), None, "{query:?}");
        }
    }

    proptest! {
        #[test]
        fn any_value_after_the_key_is_returned_as_written(
            name in "[a-z0-9_%.-]{0,70}",
            other in "[a-z]{1,8}=[a-z0-9]{0,8}",
        ) {
            let query = format!("{other}&destination={name}");
            prop_assert_eq!(requested_destination(Some(&query)), Some(name.as_str()));
        }
    }
}
