//! The one HTTP client of the deliver function, shared by every adapter that
//! speaks plain HTTP (certificates, subscription confirmation, the target).

use std::time::Duration;

/// Bound of one outbound request, answer included. SNS waits 15 s for the
/// deliver function, which may first fetch a certificate: 10 s leaves room.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Builds the client once per container. Redirects are never followed: a
/// certificate or confirmation URL was checked to be SNS's own, and a
/// redirect could lead anywhere; a target that redirects has moved, and
/// should be reconfigured rather than silently followed.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    client_with_timeout(REQUEST_TIMEOUT)
}

/// As [`client`], with another bound per request (tests use a short one).
pub fn client_with_timeout(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}
