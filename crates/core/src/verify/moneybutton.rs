//! Money Button: no signature header; the webhook's JSON body carries the
//! shared secret in its `secret` field. It is compared in constant time and
//! removed from the payload before anything is stored or forwarded.

use subtle::ConstantTimeEq;

use super::VerifyError;
use crate::secret::SecretSet;

/// Whether the secret found in the body is one of `secrets`.
pub fn verify(provided: &str, secrets: &SecretSet) -> Result<(), VerifyError> {
    if provided.is_empty() {
        return Err(VerifyError::MissingBodySecret);
    }
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    // Compare against every secret without stopping early, so timing does not
    // tell which one (if any) matched. Length differences are not hidden by
    // `ct_eq`; the length of a shared secret is not what protects it.
    let matched = secrets.iter().fold(subtle::Choice::from(0), |acc, secret| {
        acc | secret.expose().as_bytes().ct_eq(provided.as_bytes())
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_secret_verifies() {
        assert_eq!(verify("b", &SecretSet::parse("a,b")), Ok(()));
    }

    #[test]
    fn wrong_secret_does_not_match() {
        assert_eq!(
            verify("c", &SecretSet::parse("a,b")),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify("a ", &SecretSet::parse("a")),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn empty_secret_is_missing() {
        assert_eq!(
            verify("", &SecretSet::parse("a")),
            Err(VerifyError::MissingBodySecret)
        );
    }

    #[test]
    fn no_configured_secret_never_matches() {
        assert_eq!(
            verify("a", &SecretSet::default()),
            Err(VerifyError::NoSecrets)
        );
    }
}
