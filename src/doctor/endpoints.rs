//! Step 5 of `fhirdl doctor`: the OAuth endpoints answer, and the server's clock agrees with
//! ours (and, for step 4, the id_token signing keys can be read). The authorize endpoint gets a well-formed request it will show a login page for; the
//! token endpoint gets a deliberately invalid authorization code and must answer with an OAuth
//! error, which proves it is alive without signing anyone in. No token or secret is sent.

use super::answer::{fetch, Answer};
use super::{ms_text, Check, Target};
use crate::auth::discovery::Discovery;
use crate::auth::id_token::{fetch_jwks, ACCEPTED_ALGS};
use crate::http::{redact_url, Http};
use rand::Rng as _;
use reqwest::header::{ACCEPT, LOCATION};
use serde_json::Value;
use url::Url;

/// The authorize endpoint must answer (a page or a redirect to a login page), not 5xx. A
/// well-formed request is sent, as a login would, but with a random `state` and challenge that
/// nobody will ever redeem.
pub(super) async fn authorize(
    http: &Http,
    d: &Discovery,
    target: &Target,
    client_id: &str,
    redirect_uri: &str,
) -> (Check, Option<i64>) {
    let url = match sign_in_request(d, target, client_id, redirect_uri) {
        Ok(u) => u,
        Err(e) => {
            return (
                Check::fail(
                    "authorize_endpoint",
                    format!("not a URL: {e}"),
                    "tell the provider",
                ),
                None,
            )
        }
    };
    let shown = redact_url(&Url::parse(&d.authorization_endpoint).unwrap_or(url.clone()));
    let req = http.client().get(url).header(ACCEPT, "text/html");
    let answer = match fetch(http, req, 2 * 1024 * 1024).await {
        Ok(a) => a,
        Err(e) => {
            return (
                Check::fail(
                    "authorize_endpoint",
                    format!("{shown} does not answer: {e}"),
                    "the sign-in page is down or blocked: sign-in will fail until it answers; try later or tell the provider",
                ),
                None,
            )
        }
    };
    let skew = answer.skew();
    let location = answer
        .headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| answer.url.join(l).ok());
    let refused = location.as_ref().and_then(oauth_error);
    let what = what_answered(&answer, refused.as_deref(), location.as_ref());
    let detail = format!(
        "{shown} answered HTTP {} ({what}) in {}",
        answer.status,
        ms_text(answer.ms)
    );
    let rejected = (400..500).contains(&answer.status) || refused.is_some();
    let check = if answer.status >= 500 {
        Check::fail(
            "authorize_endpoint",
            detail,
            "the provider's sign-in page has a server error: try later or tell the provider",
        )
    } else if rejected && target.profile.is_some() {
        Check::warn(
            "authorize_endpoint",
            detail,
            "the sign-in request was refused before any login: check the client id and that the redirect URI below is the one registered",
        )
    } else {
        Check::ok("authorize_endpoint", detail)
    };
    let check = check
        .figure("status", answer.status)
        .figure("ms", answer.ms)
        .figure("answer", &what);
    (check, skew)
}

/// A sign-in request as fhirdl would make it (with a throwaway state and PKCE challenge).
fn sign_in_request(
    d: &Discovery,
    target: &Target,
    client_id: &str,
    redirect_uri: &str,
) -> Result<Url, url::ParseError> {
    let mut url = Url::parse(&d.authorization_endpoint)?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "launch/patient openid fhirUser")
        .append_pair("state", &random_token())
        .append_pair("aud", target.base.as_str())
        .append_pair("code_challenge", &random_token())
        .append_pair("code_challenge_method", "S256");
    Ok(url)
}

/// An OAuth error sent back to the redirect URI: the endpoint works but refused the request.
fn oauth_error(location: &Url) -> Option<String> {
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    get("error").map(|e| match get("error_description") {
        Some(d) => format!(
            "{} ({})",
            crate::sanitize::clean(&e),
            crate::sanitize::clean(&d)
        ),
        None => crate::sanitize::clean(&e),
    })
}

/// What the endpoint answered, in a few words: a refusal, a redirect, a page or a content type.
fn what_answered(answer: &Answer, refused: Option<&str>, location: Option<&Url>) -> String {
    if let Some(err) = refused {
        format!("refused the sign-in request: {err}")
    } else if (300..400).contains(&answer.status) {
        let to = location
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        format!("a redirect to {to}")
    } else if answer.is_html() {
        "a page".into()
    } else {
        let ct = answer.content_type();
        if ct.is_empty() {
            "no content type".into()
        } else {
            ct
        }
    }
}

/// The token endpoint must answer a bogus authorization code with an OAuth error JSON.
pub(super) async fn token(
    http: &Http,
    d: &Discovery,
    client_id: &str,
    redirect_uri: &str,
) -> (Check, Option<i64>) {
    let url = match Url::parse(&d.token_endpoint) {
        Ok(u) => u,
        Err(e) => {
            return (
                Check::fail(
                    "token_endpoint",
                    format!("not a URL: {e}"),
                    "tell the provider",
                ),
                None,
            )
        }
    };
    let shown = redact_url(&url);
    let code = format!("fhirdl-doctor-invalid-{}", random_token());
    let verifier = random_token();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier.as_str()),
    ];
    let req = http
        .client()
        .post(url)
        .header(ACCEPT, "application/json")
        .form(&form);
    let answer = match fetch(http, req, 1024 * 1024).await {
        Ok(a) => a,
        Err(e) => {
            return (
                Check::fail(
                    "token_endpoint",
                    format!("{shown} does not answer: {e}"),
                    "the token endpoint is down or blocked: sign-in and token refresh will fail; try later or tell the provider",
                ),
                None,
            )
        }
    };
    let skew = answer.skew();
    let error = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(Value::as_str)
                .map(crate::sanitize::clean)
        });
    let base = format!(
        "{shown} answered a deliberately invalid code with HTTP {}",
        answer.status
    );
    let check = match (&error, answer.status) {
        (_, s) if s >= 500 => Check::fail(
            "token_endpoint",
            format!("{base} ({})", ms_text(answer.ms)),
            "the token endpoint has a server error: sign-in and refresh will fail; try later or tell the provider",
        ),
        (Some(err), _) => Check::ok(
            "token_endpoint",
            format!("{base} and OAuth error {err}, as expected ({})", ms_text(answer.ms)),
        ),
        (None, _) => Check::warn(
            "token_endpoint",
            format!(
                "{base} and {} instead of an OAuth error JSON ({})",
                if answer.is_html() { "an HTML page".to_string() } else { answer.content_type() },
                ms_text(answer.ms)
            ),
            "the token endpoint may be wrong or behind a gateway that hides OAuth errors",
        ),
    };
    let check = check
        .figure("status", answer.status)
        .figure("oauth_error", &error)
        .figure("ms", answer.ms);
    (check, skew)
}

pub(super) fn skew_check(skew: i64) -> Check {
    let abs = skew.abs();
    let direction = if skew >= 0 { "ahead of" } else { "behind" };
    let detail = format!("server clock is {abs} s {direction} this computer's");
    const HINT: &str = "check this computer's clock against a time server (NTP); if it is right, the server's clock is off: tokens may be refused as expired or not yet valid";
    let check = if abs > 300 {
        Check::fail("clock_skew", detail, HINT)
    } else if abs > 60 {
        Check::warn("clock_skew", detail, HINT)
    } else {
        Check::ok(
            "clock_skew",
            format!("{abs} s apart (from the Date header)"),
        )
    };
    check.figure("skew_seconds", skew)
}

fn random_token() -> String {
    use base64::Engine as _;
    // 32 bytes: 43 characters, the length RFC 7636 requires of a code challenge.
    let bytes: [u8; 32] = rand::thread_rng().gen();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The id_token signing keys: the server signs with an algorithm fhirdl accepts, and its
/// `jwks_uri` answers with a usable key set (what every sign-in checks the id_token against).
pub(super) async fn id_token_keys(http: &Http, d: &Discovery) -> Check {
    let accepted: Vec<String> = ACCEPTED_ALGS.iter().map(|a| format!("{a:?}")).collect();
    let offered = &d.id_token_algs;
    if !offered.is_empty() && !offered.iter().any(|a| accepted.contains(a)) {
        return Check::fail(
            "id_token_keys",
            format!(
                "the server signs id_tokens with {} only, which fhirdl does not accept",
                offered.join(", ")
            ),
            "fhirdl accepts RS256, ES256 and the other public-key algorithms: tell the provider",
        )
        .figure("algorithms", offered);
    }
    let Some(uri) = &d.jwks_uri else {
        return Check::warn(
            "id_token_keys",
            "the server publishes no jwks_uri: id_token signatures cannot be checked (issuer, audience, expiry and nonce still are)",
            "sign-in still works; a provider that signs id_tokens should publish its keys",
        )
        .figure("jwks_uri", Value::Null);
    };
    match fetch_jwks(http, uri).await {
        Ok((set, _)) => {
            let keys: Vec<String> = set
                .keys
                .iter()
                .map(|k| {
                    let alg = k
                        .common
                        .key_algorithm
                        .map_or_else(|| "?".to_string(), |a| format!("{a:?}"));
                    match &k.common.key_id {
                        Some(kid) => format!("{alg} {}", crate::sanitize::clean(kid)),
                        None => alg,
                    }
                })
                .collect();
            let algs = if offered.is_empty() {
                "not stated".to_string()
            } else {
                offered.join(", ")
            };
            let shown =
                Url::parse(uri).map_or_else(|_| crate::sanitize::clean(uri), |u| redact_url(&u));
            Check::ok(
                "id_token_keys",
                format!(
                    "{} key(s) at {shown} ({}); id_token algorithms: {algs}",
                    keys.len(),
                    keys.join(", ")
                ),
            )
            .figure("keys", &keys)
            .figure("algorithms", offered)
        }
        Err(e) => Check::fail(
            "id_token_keys",
            format!("{e:#}"),
            "sign-in fails while the keys cannot be read: try again later, or tell the provider",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn skew_thresholds() {
        assert_eq!(skew_check(5).status, Status::Ok);
        assert_eq!(skew_check(-61).status, Status::Warn);
        assert_eq!(skew_check(600).status, Status::Fail);
        assert!(skew_check(-600).detail.contains("behind"));
    }

    #[test]
    fn code_challenges_have_the_rfc_7636_length() {
        assert_eq!(random_token().len(), 43);
        assert_ne!(random_token(), random_token());
    }
}
