//! Sign-in failures explained: an OAuth error (RFC 6749 4.1.2.1 on the authorization redirect,
//! 5.2 at the token endpoint) and what fhirdl sent, turned into the cause a patient or support
//! person can recognise and the fix to try.
//!
//! Pure: no I/O. The server's `error` and `error_description` are untrusted and pass through
//! [`crate::sanitize::clean`]; what fhirdl sent is named without secrets (never a token, secret,
//! code, assertion or verifier, only whether a secret or a key was used).

use crate::error::{Failure, Kind};
use crate::sanitize::clean;

/// Where the refusal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The authorization redirect back to the loopback listener (or the pasted address).
    Authorize,
    /// The token endpoint, exchanging the authorization code.
    CodeExchange,
    /// The token endpoint, exchanging the refresh token.
    Refresh,
    /// The token endpoint, the JWT bearer grant of this computer's registration (RFC 7523).
    JwtBearer,
}

/// How the client proved who it is at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientProof<'a> {
    /// A public client: the client id only.
    Public,
    /// A client secret (`client_secret_basic` or `client_secret_post`).
    Secret,
    /// A `private_key_jwt` client assertion signed with the key of this `kid`.
    Key { kid: &'a str },
}

/// What the server answered.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub stage: Stage,
    /// The OAuth `error` code; `None` for an error answer without one (a bare 400).
    pub error: Option<&'a str>,
    pub description: Option<&'a str>,
    /// The HTTP status, when known.
    pub status: Option<u16>,
}

/// What fhirdl sent, without secrets.
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    pub profile: &'a str,
    pub client_id: &'a str,
    /// The redirect URI of the authorization request (none on a refresh).
    pub redirect_uri: Option<&'a str>,
    pub requested_scope: &'a str,
    pub proof: ClientProof<'a>,
}

/// The cause fhirdl recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    RedirectUri,
    UnknownClient,
    KeyNotAccepted,
    ClockSkew,
    ScopesRefused,
    SignInOver,
    /// This computer's registration (dynamic client registration) is no longer accepted.
    RegistrationOver,
    CodeRejected,
    Denied,
    NoErrorCode,
    NoAnswer,
    Other,
}

/// A cause (the `error:` line) and its fix (the `hint:` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub cause: Cause,
    /// Decides the exit code.
    pub kind: Kind,
    pub message: String,
    pub fix: String,
}

impl Explanation {
    /// The error to return: "login required" (exit 4) when the saved sign-in is over, else a
    /// failed sign-in (exit 5) with the fix as its hint.
    pub fn into_error(self, profile: &str) -> anyhow::Error {
        if self.kind == Kind::LoginRequired {
            return crate::auth::Error::login_required(profile, self.message).into();
        }
        Failure::new(self.kind, self.message).hint(self.fix).into()
    }
}

/// Explains `refusal` of what was `sent`.
pub fn explain(refusal: &Refusal<'_>, sent: &Sent<'_>) -> Explanation {
    let error = refusal.error.map(clean).filter(|e| !e.is_empty());
    let description = refusal.description.map(clean).filter(|d| !d.is_empty());
    let said = server_said(error.as_deref(), description.as_deref(), refusal.status);
    let Some(error) = error else {
        return no_error_code(refusal, sent, &said);
    };
    let desc = description.unwrap_or_default().to_ascii_lowercase();
    let keyed = matches!(sent.proof, ClientProof::Key { .. });
    let bearer = refusal.stage == Stage::JwtBearer;
    let (cause, message, fix) = match error.as_str() {
        _ if desc.contains("redirect") && sent.redirect_uri.is_some() => redirect_uri(sent),
        "invalid_client" | "invalid_grant" | "unauthorized_client" if bearer => {
            if mentions_time(&desc) {
                clock_skew(sent)
            } else {
                registration_over(sent)
            }
        }
        "invalid_client" | "invalid_grant" | "unauthorized_client"
            if keyed && mentions_time(&desc) =>
        {
            clock_skew(sent)
        }
        "invalid_client" | "unauthorized_client" if keyed => key_not_accepted(sent),
        "invalid_client" | "unauthorized_client" => unknown_client(sent),
        "invalid_scope" => scopes_refused(sent),
        "invalid_grant" if refusal.stage == Stage::Refresh => sign_in_over(sent),
        "invalid_grant" => code_rejected(sent),
        "access_denied" => denied(sent),
        _ => other(sent),
    };
    Explanation {
        cause,
        kind: kind_of(cause, refusal.stage, &error),
        message: format!("{message} ({said})"),
        fix,
    }
}

/// The exit code's kind: a sign-in that is over asks for a login (4); server trouble, and on a
/// refresh what fhirdl cannot name, is the provider's failure (6); the rest failed sign-ins (5).
fn kind_of(cause: Cause, stage: Stage, error: &str) -> Kind {
    match cause {
        Cause::SignInOver | Cause::RegistrationOver => Kind::LoginRequired,
        Cause::Other if matches!(error, "server_error" | "temporarily_unavailable") => {
            Kind::Network
        }
        Cause::Other | Cause::NoErrorCode if matches!(stage, Stage::Refresh | Stage::JwtBearer) => {
            Kind::Network
        }
        _ => Kind::LoginFailed,
    }
}

type Parts = (Cause, String, String);

fn server_said(error: Option<&str>, description: Option<&str>, status: Option<u16>) -> String {
    let mut s = String::from("the server said: ");
    if let Some(status) = status {
        s.push_str(&format!("HTTP {status} "));
    }
    s.push_str(error.unwrap_or("no OAuth error code"));
    if let Some(d) = description {
        s.push_str(&format!(": {d}"));
    }
    s
}

/// Words of an assertion refusal about time (`exp`, `iat`, `nbf`, clock skew).
fn mentions_time(description: &str) -> bool {
    const WORDS: [&str; 10] = [
        "exp",
        "iat",
        "nbf",
        "time",
        "clock",
        "skew",
        "expired",
        "future",
        "timestamp",
        "stale",
    ];
    description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| WORDS.contains(&w))
}

fn login_command(sent: &Sent<'_>) -> String {
    format!("fhirdl login --profile {}", sent.profile)
}

fn redirect_uri(sent: &Sent<'_>) -> Parts {
    let uri = sent.redirect_uri.unwrap_or("(none)");
    (
        Cause::RedirectUri,
        format!("the provider refused the redirect URI {uri}: it is not the one registered for the app"),
        format!("the app registration must list {uri} exactly; --port, --redirect-path and --redirect-host make fhirdl's redirect URI match it, e.g. `{} --port <port> --redirect-path <path>`", login_command(sent)),
    )
}

fn unknown_client(sent: &Sent<'_>) -> Parts {
    let secret = match sent.proof {
        ClientProof::Secret => " and the client secret (FHIRDL_CLIENT_SECRET)",
        _ => "",
    };
    (
        Cause::UnknownClient,
        format!(
            "the provider does not accept the client id '{}': the app is unknown or not activated at this organization",
            clean(sent.client_id)
        ),
        format!("check the client id{secret} and that the app is enabled for this provider (many vendors activate an app per organization), then run `{}`", login_command(sent)),
    )
}

fn key_not_accepted(sent: &Sent<'_>) -> Parts {
    let kid = match sent.proof {
        ClientProof::Key { kid } => kid,
        _ => "",
    };
    (
        Cause::KeyNotAccepted,
        format!(
            "the provider did not accept the client key {kid} of client id '{}'",
            clean(sent.client_id)
        ),
        format!("the public key set (`fhirdl key create` printed it) may not be registered for this app, or not yet active at the vendor (activation can take hours); check the registration holds key {kid}, then run `{}`", login_command(sent)),
    )
}

fn clock_skew(sent: &Sent<'_>) -> Parts {
    (
        Cause::ClockSkew,
        "the provider refused the signed client assertion as expired or not yet valid: this computer's clock may be wrong".into(),
        format!("check this computer's date, time and time zone (turn on automatic time), then run `{}`", login_command(sent)),
    )
}

fn scopes_refused(sent: &Sent<'_>) -> Parts {
    (
        Cause::ScopesRefused,
        format!(
            "the provider refused the requested scopes: {}",
            clean(sent.requested_scope)
        ),
        format!("ask for fewer scopes with --scope, or have the app registration allow them: `{} --scope \"launch/patient openid fhirUser offline_access patient/*.read\"`", login_command(sent)),
    )
}

fn sign_in_over(sent: &Sent<'_>) -> Parts {
    (
        Cause::SignInOver,
        format!(
            "the provider no longer accepts the saved sign-in of profile '{}': it expired or was revoked",
            sent.profile
        ),
        format!("run: {}", login_command(sent)),
    )
}

fn registration_over(sent: &Sent<'_>) -> Parts {
    (
        Cause::RegistrationOver,
        format!(
            "the provider no longer accepts this computer's registration (client id '{}') for profile '{}': it was revoked, expired, or its key is not active yet",
            clean(sent.client_id),
            sent.profile
        ),
        format!("sign in again, which registers this computer anew: {} (if it registered only minutes ago, the provider may still be activating its key: try again later)", login_command(sent)),
    )
}

fn code_rejected(sent: &Sent<'_>) -> Parts {
    (
        Cause::CodeRejected,
        "the provider refused the authorization code: it expired or was already used".into(),
        format!(
            "run `{}` again and finish the sign-in without delay",
            login_command(sent)
        ),
    )
}

fn denied(sent: &Sent<'_>) -> Parts {
    (
        Cause::Denied,
        "access was declined on the provider's consent page".into(),
        format!("run `{}` again and choose Allow; if you did not decline, your account may not be allowed to share records with apps (ask the provider)", login_command(sent)),
    )
}

fn other(sent: &Sent<'_>) -> Parts {
    let redirect = sent
        .redirect_uri
        .map(|u| format!(", redirect URI {u}"))
        .unwrap_or_default();
    (
        Cause::Other,
        "the provider refused the sign-in".into(),
        format!(
            "check the app registration (client id '{}'{redirect}) with the provider; `fhirdl doctor --profile {}` checks the connection",
            clean(sent.client_id),
            sent.profile
        ),
    )
}

/// An error answer without an OAuth `error`: say what was sent (names, never values of
/// secrets) and point to `doctor`.
fn no_error_code(refusal: &Refusal<'_>, sent: &Sent<'_>, said: &str) -> Explanation {
    let (place, grant) = match refusal.stage {
        Stage::Authorize => ("the authorization endpoint", "response_type=code"),
        Stage::CodeExchange => (
            "the token endpoint",
            "grant_type=authorization_code with a code and PKCE verifier",
        ),
        Stage::Refresh => ("the token endpoint", "grant_type=refresh_token"),
        Stage::JwtBearer => (
            "the token endpoint",
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer with a signed assertion",
        ),
    };
    let proof = match sent.proof {
        ClientProof::Public => "no client secret".to_string(),
        ClientProof::Secret => "a client secret (not shown)".to_string(),
        ClientProof::Key { kid } => format!("a client assertion signed with key {kid}"),
    };
    let redirect = sent
        .redirect_uri
        .map(|u| format!(", redirect_uri={u}"))
        .unwrap_or_default();
    Explanation {
        cause: Cause::NoErrorCode,
        kind: kind_of(Cause::NoErrorCode, refusal.stage, ""),
        message: format!(
            "{place} refused the request without saying why ({said}); fhirdl sent {grant}, client_id={}{redirect}, scope={}, {proof}",
            clean(sent.client_id),
            clean(sent.requested_scope)
        ),
        fix: format!(
            "run `fhirdl doctor --profile {}` to check the connection and the registration; `fhirdl -v …` shows each request with secrets redacted",
            sent.profile
        ),
    }
}

/// No answer came back from the sign-in page within `waited`. A provider shows an unknown client
/// id or an unregistered redirect URI as a page and never redirects (RFC 6749 4.1.2.1), so both
/// are named.
pub fn no_answer(sent: &Sent<'_>, waited: &str) -> Explanation {
    let uri = sent.redirect_uri.unwrap_or("(none)");
    Explanation {
        cause: Cause::NoAnswer,
        kind: Kind::LoginFailed,
        message: format!("no sign-in response arrived within {waited}"),
        fix: format!(
            "if the provider's page showed an error, either client id '{}' is unknown or not enabled for this provider (check it and the app's activation), or the redirect URI {uri} is not registered: the registration must list it exactly (match it with --port, --redirect-path and --redirect-host); otherwise finish sooner or allow more time with --timeout",
            clean(sent.client_id)
        ),
    }
}

/// Requested versus granted, one scope at a time, when the provider granted less than asked.
pub fn scope_shortfall(requested: &str, granted: &str) -> Option<String> {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    let requested: Vec<&str> = requested.split_whitespace().collect();
    if requested.iter().all(|s| granted.contains(s)) {
        return None;
    }
    let lines: Vec<String> = requested
        .iter()
        .map(|s| {
            let mark = if granted.contains(s) {
                "granted"
            } else {
                "NOT granted"
            };
            format!("  {}: {mark}", clean(s))
        })
        .collect();
    Some(format!(
        "the provider granted less than requested (the consent page or the app registration left scopes out):\n{}",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: Sent<'static> = Sent {
        profile: "clinic",
        client_id: "app-1",
        redirect_uri: Some("http://127.0.0.1:53211/callback"),
        requested_scope: "launch/patient openid patient/*.rs",
        proof: ClientProof::Public,
    };

    fn refused<'a>(stage: Stage, error: Option<&'a str>, desc: Option<&'a str>) -> Refusal<'a> {
        Refusal {
            stage,
            error,
            description: desc,
            status: None,
        }
    }

    fn explained(r: Refusal<'_>, sent: Sent<'_>) -> Explanation {
        explain(&r, &sent)
    }

    #[test]
    fn redirect_uri_mismatch_names_the_uri_and_the_flags() {
        for (stage, error) in [
            (Stage::Authorize, "invalid_request"),
            (Stage::CodeExchange, "invalid_grant"),
        ] {
            let e = explained(
                refused(stage, Some(error), Some("redirect_uri mismatch")),
                SENT,
            );
            assert_eq!(e.cause, Cause::RedirectUri);
            assert!(
                e.message.contains("http://127.0.0.1:53211/callback"),
                "{e:?}"
            );
            assert!(e.message.contains(error) && e.message.contains("mismatch"));
            for flag in ["--port", "--redirect-path", "--redirect-host"] {
                assert!(e.fix.contains(flag), "{e:?}");
            }
        }
    }

    #[test]
    fn unknown_or_inactive_client() {
        for error in ["invalid_client", "unauthorized_client"] {
            let e = explained(refused(Stage::CodeExchange, Some(error), None), SENT);
            assert_eq!(e.cause, Cause::UnknownClient);
            assert!(e.message.contains("'app-1'") && e.message.contains("organization"));
            assert!(e.fix.contains("client id") && e.fix.contains("enabled"));
            assert!(!e.fix.contains("secret"));
        }
        let secret = Sent {
            proof: ClientProof::Secret,
            ..SENT
        };
        let e = explained(
            refused(Stage::Refresh, Some("invalid_client"), None),
            secret,
        );
        assert!(e.fix.contains("FHIRDL_CLIENT_SECRET"), "{e:?}");
    }

    #[test]
    fn a_key_not_accepted_or_a_clock_off() {
        let keyed = Sent {
            proof: ClientProof::Key { kid: "k-42" },
            ..SENT
        };
        let e = explained(
            refused(
                Stage::CodeExchange,
                Some("invalid_client"),
                Some("unknown kid"),
            ),
            keyed,
        );
        assert_eq!(e.cause, Cause::KeyNotAccepted);
        assert!(e.message.contains("k-42") && e.fix.contains("not yet active"));
        for desc in [
            "assertion exp is in the past",
            "iat too far in the future",
            "Client assertion expired",
            "clock skew too large",
        ] {
            let e = explained(
                refused(Stage::Refresh, Some("invalid_client"), Some(desc)),
                keyed,
            );
            assert_eq!(e.cause, Cause::ClockSkew, "{desc}");
            assert!(e.fix.contains("clock") || e.fix.contains("time"), "{e:?}");
        }
        // Without a key, talk of time is not about an assertion.
        let e = explained(
            refused(Stage::CodeExchange, Some("invalid_client"), Some("expired")),
            SENT,
        );
        assert_eq!(e.cause, Cause::UnknownClient);
    }

    #[test]
    fn scopes_refused_and_granted_less() {
        let e = explained(refused(Stage::Authorize, Some("invalid_scope"), None), SENT);
        assert_eq!(e.cause, Cause::ScopesRefused);
        assert!(e.message.contains("patient/*.rs") && e.fix.contains("--scope"));
        let s = scope_shortfall(
            "launch/patient openid patient/*.rs",
            "patient/*.rs launch/patient",
        )
        .unwrap();
        assert!(s.contains("openid: NOT granted"), "{s}");
        assert!(s.contains("patient/*.rs: granted"), "{s}");
        assert_eq!(scope_shortfall("a b", "b a c"), None);
    }

    #[test]
    fn a_refused_jwt_bearer_grant_ends_the_registration_unless_the_clock_is_off() {
        let keyed = Sent {
            proof: ClientProof::Key { kid: "k1" },
            redirect_uri: None,
            ..SENT
        };
        for error in ["invalid_grant", "invalid_client", "unauthorized_client"] {
            let e = explained(refused(Stage::JwtBearer, Some(error), None), keyed);
            assert_eq!(e.cause, Cause::RegistrationOver, "{error}");
            assert!(
                e.message.contains("this computer's registration"),
                "{}",
                e.message
            );
            assert_eq!(crate::exit::exit_code(&e.into_error("clinic")), 4);
        }
        let e = explained(
            refused(
                Stage::JwtBearer,
                Some("invalid_client"),
                Some("assertion exp is in the past"),
            ),
            keyed,
        );
        assert_eq!(e.cause, Cause::ClockSkew);
        assert_eq!(crate::exit::exit_code(&e.into_error("clinic")), 5);
        let e = explained(refused(Stage::JwtBearer, None, None), keyed);
        assert!(e.message.contains("jwt-bearer"), "{}", e.message);
        assert_eq!(crate::exit::exit_code(&e.into_error("clinic")), 6);
    }

    #[test]
    fn invalid_grant_on_refresh_asks_for_a_login_and_exits_4() {
        let e = explained(
            refused(Stage::Refresh, Some("invalid_grant"), Some("token revoked")),
            SENT,
        );
        assert_eq!(e.cause, Cause::SignInOver);
        assert!(e.message.contains("expired or was revoked"));
        let err = e.into_error("clinic");
        assert_eq!(crate::exit::exit_code(&err), 4);
        assert_eq!(
            crate::exit::hint_of(&err).as_deref(),
            Some("run: fhirdl login --profile clinic")
        );
        let e = explained(
            refused(Stage::CodeExchange, Some("invalid_grant"), None),
            SENT,
        );
        assert_eq!(e.cause, Cause::CodeRejected);
        assert_eq!(crate::exit::exit_code(&e.into_error("clinic")), 5);
    }

    #[test]
    fn access_denied_is_the_consent_page() {
        let e = explained(
            refused(
                Stage::Authorize,
                Some("access_denied"),
                Some("The patient denied access"),
            ),
            SENT,
        );
        assert_eq!(e.cause, Cause::Denied);
        assert!(e.message.contains("consent page") && e.fix.contains("Allow"));
        assert!(e.fix.contains("fhirdl login --profile clinic"));
    }

    #[test]
    fn a_bare_400_says_what_was_sent_without_secrets() {
        let keyed = Sent {
            proof: ClientProof::Key { kid: "k-42" },
            ..SENT
        };
        let r = Refusal {
            status: Some(400),
            ..refused(Stage::CodeExchange, None, None)
        };
        let e = explained(r, keyed);
        assert_eq!(e.cause, Cause::NoErrorCode);
        assert!(
            e.message.contains("HTTP 400") && e.message.contains("client_id=app-1"),
            "{e:?}"
        );
        assert!(e
            .message
            .contains("redirect_uri=http://127.0.0.1:53211/callback"));
        assert!(e.fix.contains("fhirdl doctor --profile clinic"));
        let secret = Sent {
            proof: ClientProof::Secret,
            ..SENT
        };
        let e = explained(refused(Stage::Refresh, Some(""), None), secret);
        assert_eq!(e.cause, Cause::NoErrorCode);
        assert!(e.message.contains("not shown") && e.message.contains("grant_type=refresh_token"));
    }

    #[test]
    fn no_answer_names_the_client_and_the_redirect_uri() {
        let e = no_answer(&SENT, "3 seconds");
        assert_eq!(e.cause, Cause::NoAnswer);
        assert!(e.message.contains("3 seconds"));
        assert!(e.fix.contains("'app-1'") && e.fix.contains("http://127.0.0.1:53211/callback"));
        assert!(e.fix.contains("--port") && e.fix.contains("--timeout"));
    }

    #[test]
    fn other_errors_and_hostile_server_text() {
        let e = explained(
            refused(
                Stage::Authorize,
                Some("server_error\u{1b}[31m"),
                Some("boom\r\n\u{7}"),
            ),
            SENT,
        );
        assert_eq!(e.cause, Cause::Other);
        assert!(!e.message.chars().any(char::is_control), "{e:?}");
        assert!(e.fix.contains("fhirdl doctor --profile clinic"));
        let long = "x".repeat(5000);
        let e = explained(
            refused(Stage::Authorize, Some("invalid_request"), Some(&long)),
            SENT,
        );
        assert!(e.message.len() < 1000);
    }
}
