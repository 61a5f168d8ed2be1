//! The SMART standalone launch: authorization code with PKCE S256 through the loopback listener
//! (or a pasted address), then the code exchange.
//!
//! The browser receives only the authorize URL; the code verifier, the code and the tokens stay in
//! this process and are never printed.

use super::client_key::ClientKey;
use super::credentials::Credentials;
use super::discovery::Discovery;
use super::explain::{no_answer, scope_shortfall, Sent, Stage};
use super::id_token::{self, Expected as IdTokenExpected, SignatureCheck};
use super::loopback::{check_callback, parse_pasted, CallbackParams, Expected, Loopback, Waiting};
use super::oauth::{
    assertion_params, build_client, credentials_from, describe_token_error, patient_from_fhir_user,
    proof_of, SmartClient, SmartTokenResponse,
};
use super::scopes::grant_warnings;
use crate::auth::loopback::RedirectSettings;
use crate::console::Console;
use crate::error::{Failure, Kind};
use crate::http::Http;
use crate::secret::Secret;
use anyhow::Result;
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use url::Url;

/// A program-driven browser (the demo's): gets the authorize URL, returns when it is done.
pub type HeadlessBrowser =
    Box<dyn FnOnce(Url) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send>;

/// How the user reaches the sign-in page.
pub enum Mode {
    /// Open the system browser (falls back to printing the address).
    Browser,
    /// Print the address; the redirect comes back to the loopback listener.
    NoBrowser,
    /// Print the address and read the address the browser landed on from stdin (SSH).
    Paste,
    /// A program plays the browser.
    Headless(HeadlessBrowser),
}

pub struct SignIn<'a> {
    pub profile_name: &'a str,
    pub fhir_base: &'a Url,
    pub client_id: &'a str,
    pub client_secret: Option<Secret>,
    /// `private_key_jwt`: the code exchange carries an assertion signed with this key.
    pub client_key: Option<ClientKey>,
    pub discovery: &'a Discovery,
    pub scope: String,
    pub send_aud: bool,
    pub redirect: RedirectSettings,
    pub timeout: Duration,
    pub mode: Mode,
}

pub struct SignedIn {
    pub credentials: Credentials,
    pub warnings: Vec<String>,
    pub redirect_uri: String,
    /// How the id_token's signature was checked (`None`: the server sent no id_token).
    pub id_token: Option<SignatureCheck>,
    /// The server's key set when it was read anew during this sign-in, for the profile's cache.
    pub fresh_jwks: Option<String>,
}

enum Arrival {
    Callback(CallbackParams),
    Pasted(Result<CallbackParams>),
    BrowserFailed(anyhow::Error),
}

/// Signs in at the provider: the authorize URL shown as `req.mode` says, the callback (or the
/// pasted address) awaited, its code exchanged, the id_token checked and the patient found.
pub async fn sign_in(http: &Http, ui: &dyn Console, mut req: SignIn<'_>) -> Result<SignedIn> {
    if let Some(key) = &req.client_key {
        req.discovery
            .accepts_client_key(&key.info, req.profile_name)?;
    }
    // A registered redirect elsewhere (`--redirect-uri`) needs no listener: the address is
    // pasted. Otherwise the loopback listener answers the redirect.
    let (mut waiting, redirect_uri) = match &req.redirect.uri {
        Some(uri) => (None, uri.clone()),
        None => {
            let lb =
                Loopback::bind(req.redirect.host, req.redirect.port, &req.redirect.path).await?;
            let uri = lb.redirect_uri();
            (Some(lb.serve()), uri)
        }
    };
    let client = build_client(
        req.client_id,
        req.client_secret.as_ref(),
        req.discovery,
        Some(&redirect_uri),
    )?;
    let authorization = authorization(&client, &req);
    // The mode is used once, here; the rest of `req` is read after.
    let mode = std::mem::replace(&mut req.mode, Mode::NoBrowser);
    let arrivals = present(
        ui,
        mode,
        &authorization.url,
        &redirect_uri,
        waiting.is_none(),
    )
    .await;
    ui.info(&format!(
        "Waiting for the sign-in to finish (up to {})…",
        crate::datetime::human_duration(req.timeout.as_secs() as i64)
    ));
    let params = arrival(
        &mut waiting,
        arrivals,
        req.timeout,
        &sent(&req, &redirect_uri),
    )
    .await?;
    let code = check_callback(&params, &authorization.expected, &sent(&req, &redirect_uri));
    // Let the browser receive its "you may close this tab" page before the listener goes away.
    if let Some(waiting) = waiting {
        waiting.finish().await;
    }
    let code = code?;
    ui.info("Signed in at the provider; exchanging the authorization code…");
    let response = exchange(
        http,
        &client,
        &req,
        code,
        authorization.verifier,
        &redirect_uri,
    )
    .await?;
    signed_in(http, &req, &response, &authorization.nonce, redirect_uri).await
}

/// The authorize URL and what its answer must carry.
struct Authorization {
    url: Url,
    /// The callback's `state` (and `iss`, when the server sends one).
    expected: Expected,
    verifier: PkceCodeVerifier,
    /// OpenID Connect: the id_token must repeat this, so it cannot be replayed from elsewhere.
    nonce: CsrfToken,
}

/// The authorize URL: the scopes, PKCE S256, `aud` when asked for, a nonce with `openid`.
fn authorization(client: &SmartClient, req: &SignIn<'_>) -> Authorization {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = CsrfToken::new_random();
    let mut auth = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(
            req.scope
                .split_whitespace()
                .map(|s| Scope::new(s.to_string())),
        )
        .set_pkce_challenge(challenge);
    if req.send_aud {
        auth = auth.add_extra_param("aud", req.fhir_base.as_str().to_string());
    }
    if req.scope.split_whitespace().any(|s| s == "openid") {
        auth = auth.add_extra_param("nonce", nonce.secret().clone());
    }
    let (url, csrf) = auth.url();
    let expected = Expected {
        state: csrf.secret().clone(),
        iss: req
            .discovery
            .iss_parameter_supported
            .then(|| req.discovery.issuer.clone())
            .flatten(),
    };
    Authorization {
        url,
        expected,
        verifier,
        nonce,
    }
}

/// Shows the sign-in page as `mode` says; what arrives other than the loopback callback (a
/// pasted address, a failed headless browser) comes through the returned channel.
async fn present(
    ui: &dyn Console,
    mode: Mode,
    authorize_url: &Url,
    redirect_uri: &str,
    registered_elsewhere: bool,
) -> tokio::sync::mpsc::Receiver<Arrival> {
    let host = authorize_url.host_str().unwrap_or("the provider");
    let (arrival_tx, arrival_rx) = tokio::sync::mpsc::channel::<Arrival>(2);
    match mode {
        Mode::Browser => {
            ui.info(&format!(
                "Opening the sign-in page of {host} in your browser…"
            ));
            match super::browser::open(authorize_url.as_str()).await {
                Some(_) => ui.info(&format!("If no browser window opened, visit this address:\n  {authorize_url}")),
                None => ui.info(&format!(
                    "No browser could be started. Open this address in a browser on this computer:\n  {authorize_url}"
                )),
            }
        }
        Mode::NoBrowser => {
            ui.info(&format!(
                "Open this address in a browser on this computer to sign in:\n  {authorize_url}"
            ));
        }
        Mode::Paste => {
            let landing = if registered_elsewhere {
                "which may show an error or a blank page"
            } else {
                "which will probably fail to load on that\ncomputer"
            };
            ui.info(&format!(
                "Open this address in a browser on any computer and sign in:\n  {authorize_url}\n\n\
                 The browser then goes to {redirect_uri}…, {landing}. That is expected:\n\
                 copy the whole address from its address bar and paste it here."
            ));
            eprint!("Address: ");
            read_pasted(arrival_tx, redirect_uri.to_owned());
        }
        Mode::Headless(browser) => {
            let url = authorize_url.clone();
            tokio::spawn(async move {
                if let Err(e) = browser(url).await {
                    let _ = arrival_tx.send(Arrival::BrowserFailed(e)).await;
                }
            });
        }
    }
    arrival_rx
}

/// Reads the pasted address from stdin and sends it to `tx`.
fn read_pasted(tx: tokio::sync::mpsc::Sender<Arrival>, redirect_uri: String) {
    // A plain thread: a blocked stdin read must not keep the runtime from shutting down.
    std::thread::spawn(move || {
        let mut line = String::new();
        let result = match std::io::stdin().read_line(&mut line) {
            Ok(0) => {
                Err(Failure::new(Kind::LoginFailed, "no address was pasted (end of input)").into())
            }
            Ok(_) => parse_pasted(&line).and_then(|p| {
                check_pasted_address(&line, &redirect_uri)?;
                Ok(p)
            }),
            Err(e) => Err(anyhow::anyhow!("cannot read the pasted address: {e}")),
        };
        let _ = tx.blocking_send(Arrival::Pasted(result));
    });
}

/// The callback's parameters, whichever way they arrive first; a timeout or Ctrl-C ends the
/// sign-in.
async fn arrival(
    waiting: &mut Option<Waiting>,
    mut arrivals: tokio::sync::mpsc::Receiver<Arrival>,
    timeout: Duration,
    sent: &Sent<'_>,
) -> Result<CallbackParams> {
    let arrival = tokio::select! {
        cb = listened(waiting) => Arrival::Callback(cb?),
        Some(a) = arrivals.recv() => a,
        _ = tokio::time::sleep(timeout) => {
            let waited = crate::datetime::human_duration(timeout.as_secs() as i64);
            return Err(no_answer(sent, &waited).into_error(sent.profile));
        }
        _ = tokio::signal::ctrl_c() => {
            return Err(Failure::new(Kind::Interrupted, "sign-in interrupted; nothing was saved").into());
        }
    };
    match arrival {
        Arrival::Callback(p) => Ok(p),
        Arrival::Pasted(p) => p,
        Arrival::BrowserFailed(e) => Err(e.context("the sign-in in the built-in browser failed")),
    }
}

/// The callback at the loopback listener; never, without one.
async fn listened(waiting: &mut Option<Waiting>) -> Result<CallbackParams> {
    match waiting {
        Some(w) => w.callback().await,
        None => std::future::pending().await,
    }
}

/// A pasted full address must be at the redirect URI the sign-in used (scheme, host, port and
/// path): an address from another sign-in or another app is refused before its `state` is
/// even read.
fn check_pasted_address(pasted: &str, redirect_uri: &str) -> Result<()> {
    let (Ok(got), Ok(want)) = (Url::parse(pasted.trim()), Url::parse(redirect_uri)) else {
        // A bare query string (`?code=…&state=…`) is allowed; `state` still decides.
        return Ok(());
    };
    let place = |u: &Url| {
        (
            u.scheme().to_owned(),
            u.host_str().map(str::to_owned),
            u.port_or_known_default(),
            u.path().to_owned(),
        )
    };
    if place(&got) == place(&want) {
        return Ok(());
    }
    Err(Failure::new(
        Kind::LoginFailed,
        format!("the pasted address is not at the redirect URI of this sign-in ({redirect_uri})"),
    )
    .hint("paste the address the browser shows after signing in; it starts with the redirect URI")
    .into())
}

/// The authorization code exchanged for tokens, with the PKCE verifier; a refusal says what to
/// check.
async fn exchange(
    http: &Http,
    client: &SmartClient,
    req: &SignIn<'_>,
    code: Secret,
    verifier: PkceCodeVerifier,
    redirect_uri: &str,
) -> Result<SmartTokenResponse> {
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.expose().to_string()))
        .set_pkce_verifier(verifier);
    if let Some(key) = &req.client_key {
        for (name, value) in assertion_params(client, key)? {
            request = request.add_extra_param(name, value);
        }
    }
    request.request_async(http).await.map_err(|e| {
        describe_token_error(&e, &req.discovery.token_endpoint).into_error(
            Stage::CodeExchange,
            &sent(req, redirect_uri),
            Kind::LoginFailed,
        )
    })
}

/// What this sign-in sends, for explaining a refusal ([`super::explain`]); no secret in it.
fn sent<'a>(req: &'a SignIn<'_>, redirect_uri: &'a str) -> Sent<'a> {
    Sent {
        profile: req.profile_name,
        client_id: req.client_id,
        redirect_uri: Some(redirect_uri),
        requested_scope: &req.scope,
        proof: proof_of(req.client_secret.is_some(), req.client_key.as_ref()),
    }
}

/// The token response made credentials: its id_token validated (who signed in), the patient
/// found, and what the grant lacks said.
async fn signed_in(
    http: &Http,
    req: &SignIn<'_>,
    response: &SmartTokenResponse,
    nonce: &CsrfToken,
    redirect_uri: String,
) -> Result<SignedIn> {
    let mut credentials = credentials_from(response, &req.scope, None, req.client_secret.clone());
    let validated = match &response.extra_fields().id_token {
        Some(token) => {
            let expected = IdTokenExpected {
                issuer: req.discovery.issuer.as_deref(),
                client_id: req.client_id,
                nonce: nonce.secret(),
            };
            Some(id_token::validate(http, req.discovery, token.expose(), &expected).await?)
        }
        None => None,
    };
    let (id_token, fresh_jwks) = match validated {
        Some(v) => {
            credentials.fhir_user = v.claims.fhir_user;
            credentials.user_name = v.claims.name;
            (Some(v.signature), v.fresh_jwks)
        }
        None => (None, None),
    };
    // The patient is the token response's; only a validated fhirUser that is a Patient may
    // stand in for it (SMART App Launch: "patient" is the launch context).
    if credentials.patient.is_none() {
        credentials.patient = credentials
            .fhir_user
            .as_deref()
            .and_then(patient_from_fhir_user);
    }
    if credentials.patient.is_none() {
        return Err(no_patient_context(credentials.fhir_user.as_deref()));
    }
    let mut warnings: Vec<String> = scope_shortfall(&req.scope, &credentials.scope)
        .into_iter()
        .collect();
    warnings.extend(grant_warnings(
        &credentials.scope,
        credentials.refresh_token.is_some(),
    ));
    let openid_granted = credentials.scope.split_whitespace().any(|s| s == "openid");
    if id_token.is_none() && openid_granted {
        warnings.push(
            "the provider granted openid but sent no id_token: who signed in could not be checked"
                .into(),
        );
    }
    Ok(SignedIn {
        credentials,
        warnings,
        redirect_uri,
        id_token,
        fresh_jwks,
    })
}

/// The sign-in worked but names no patient record.
fn no_patient_context(fhir_user: Option<&str>) -> anyhow::Error {
    let who = match fhir_user {
        Some(u) => format!(" (you signed in as {})", crate::sanitize::clean(u)),
        None => String::new(),
    };
    Failure::new(
        Kind::LoginFailed,
        format!("the provider signed you in but did not say which patient record is yours{who}: no 'patient' in the token response"),
    )
    .hint("the scope must include launch/patient (check --scope and the app registration); a parent or caregiver account must pick the patient on the provider's sign-in pages, then run `fhirdl login` again")
    .into()
}

#[cfg(test)]
mod tests {
    use super::check_pasted_address;

    #[test]
    fn a_pasted_address_must_be_at_the_redirect_uri() {
        let uri = "https://app.example.org/fhirdl/callback";
        assert!(check_pasted_address(
            "https://app.example.org/fhirdl/callback?code=c&state=s",
            uri
        )
        .is_ok());
        assert!(check_pasted_address("  ?code=c&state=s ", uri).is_ok());
        assert!(check_pasted_address("https://evil.example/fhirdl/callback?code=c", uri).is_err());
        assert!(check_pasted_address("https://app.example.org/other?code=c", uri).is_err());
        let private = "com.example.fhirdl:/cb";
        assert!(check_pasted_address("com.example.fhirdl:/cb?code=c&state=s", private).is_ok());
    }
}
