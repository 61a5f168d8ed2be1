//! The authorization endpoint: validates the request (client, redirect URI, PKCE, state, scope,
//! aud), then walks the user through the login form and the consent page, and finally sends the
//! browser back to the app with a code or an error.
//!
//! Errors about the client or the redirect URI are shown as a page: redirecting to an
//! unverified URI would make the sandbox an open redirector (RFC 6749 4.1.2.1).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use url::{Host, Url};

use crate::form::Params;
use crate::grants::AuthRequest;
use crate::state::Shared;
use crate::{crypto, html, scopes};

/// GET /oauth/authorize
pub(crate) async fn get(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    begin(&shared, &params)
}

/// POST /oauth/authorize: the login form, the consent form, or an authorize request sent as a
/// form (SMART's `authorize-post` capability).
pub(crate) async fn post(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = Params::parse(&body);
    if !params.contains("txn") {
        return begin(&shared, &params);
    }
    let Ok(Some(txn)) = params.get("txn") else {
        return html::error("The sign-in form was incomplete.");
    };
    match params.get("decision") {
        Ok(Some(decision)) => decide(&shared, txn, decision, &params),
        Ok(None) => sign_in(&shared, txn, &params),
        Err(_) => html::error("The consent form was sent twice in one request."),
    }
}

/// Why an authorize request failed, and whether the app may be told.
enum Rejection {
    /// The client or redirect URI cannot be trusted: show a page.
    Page(String),
    /// Tell the app through its redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

fn begin(shared: &Shared, params: &Params) -> Response {
    let request = match validate(shared, params) {
        Ok(request) => request,
        Err(Rejection::Page(message)) => return html::error(&message),
        Err(Rejection::Redirect {
            redirect_uri,
            state,
            error,
            description,
        }) => {
            let mut pairs = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            return redirect_to_app(shared, &redirect_uri, &pairs);
        }
    };
    if let Some(username) = &shared.config.auto_login {
        return match shared.user(username) {
            Some(user) => grant_code(shared, &request, &user.patient_id),
            None => html::error("The sandbox's auto-login user does not exist."),
        };
    }
    let txn = shared.auth().start_transaction(request.clone());
    html::login(&txn, &request.client_id, None)
}

fn validate(shared: &Shared, params: &Params) -> Result<AuthRequest, Rejection> {
    let (client_id, redirect_uri) = client_and_redirect(shared, params)?;
    // From here on the app can be told what went wrong.
    let app = BackToApp {
        redirect_uri,
        state: params.get("state").ok().flatten(),
    };
    if let Some(name) = params.first_repeated() {
        return Err(app.reject(
            "invalid_request",
            format!("{name} was given more than once"),
        ));
    }
    let get = |name: &'static str| params.get(name).ok().flatten();
    let (state, code_challenge) = check_flow(shared, &get, &app)?;
    let requested = get("scope").unwrap_or_default();
    let granted_scope = granted_scope(shared, requested, &app)?;
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.to_owned(),
        code_challenge: code_challenge.to_owned(),
        requested_scope: requested.to_owned(),
        granted_scope,
        nonce: get("nonce").map(str::to_owned),
        proxy: None,
    })
}

/// The registered client and its redirect URI. What is wrong with them is shown as a page,
/// never sent to the URI.
fn client_and_redirect<'a>(
    shared: &Shared,
    params: &'a Params,
) -> Result<(&'a str, &'a str), Rejection> {
    let config = &shared.config;
    let page = |m: &str| Rejection::Page(m.to_owned());
    let client_id = params
        .get("client_id")
        .map_err(|_| page("client_id was given more than once."))?
        .ok_or_else(|| page("The request has no client_id."))?;
    let known = client_id == config.public_client_id
        || config
            .confidential_client
            .as_ref()
            .is_some_and(|(id, _)| id == client_id)
        || shared.client_keys.is_registered(client_id);
    if !known {
        return Err(Rejection::Page(format!(
            "Unknown client_id {client_id:?}: this app is not registered with the sandbox."
        )));
    }
    let redirect_uri = params
        .get("redirect_uri")
        .map_err(|_| page("redirect_uri was given more than once."))?
        .ok_or_else(|| page("The request has no redirect_uri."))?;
    if !redirect_allowed(shared, redirect_uri) {
        return Err(Rejection::Page(format!(
            "The redirect URI {redirect_uri} is not registered for this app."
        )));
    }
    Ok((client_id, redirect_uri))
}

/// Where an error goes once the client and its redirect URI are trusted: back to the app, with
/// the request's `state`.
struct BackToApp<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
}

impl BackToApp<'_> {
    fn reject(&self, error: &'static str, description: String) -> Rejection {
        Rejection::Redirect {
            redirect_uri: self.redirect_uri.to_owned(),
            state: self.state.map(str::to_owned),
            error,
            description,
        }
    }
}

/// The code flow's parameters: `response_type=code`, a `state`, PKCE with S256 and, when the
/// sandbox requires it, `aud`; the state and the code challenge.
fn check_flow<'a>(
    shared: &Shared,
    get: &dyn Fn(&'static str) -> Option<&'a str>,
    app: &BackToApp<'a>,
) -> Result<(&'a str, &'a str), Rejection> {
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(app.reject(
                "unsupported_response_type",
                format!("response_type {other} is not supported; use code"),
            ))
        }
        None => return Err(app.reject("invalid_request", "response_type is missing".into())),
    }
    let Some(state) = app.state else {
        return Err(app.reject("invalid_request", "state is missing".into()));
    };
    if get("code_challenge_method") != Some("S256") {
        return Err(app.reject(
            "invalid_request",
            "PKCE is required with code_challenge_method=S256".into(),
        ));
    }
    let code_challenge = get("code_challenge")
        .filter(|c| crypto::is_valid_verifier(c))
        .ok_or_else(|| {
            app.reject(
                "invalid_request",
                "code_challenge is missing or malformed".into(),
            )
        })?;
    if shared.config.require_aud {
        let aud = get("aud").unwrap_or_default();
        if aud.strip_suffix('/').unwrap_or(aud) != shared.fhir_base {
            return Err(app.reject(
                "invalid_request",
                format!("aud must be the FHIR base URL {}", shared.fhir_base),
            ));
        }
    }
    Ok((state, code_challenge))
}

/// The scope granted for `requested`: the configured override, or what the sandbox serves of
/// it; `invalid_scope` when that is nothing.
fn granted_scope(
    shared: &Shared,
    requested: &str,
    app: &BackToApp<'_>,
) -> Result<String, Rejection> {
    let config = &shared.config;
    let granted = match &config.granted_scope_override {
        Some(scope) => scope.clone(),
        None => scopes::grantable(
            requested,
            config.flavor,
            config.scopes_v2,
            config.quirks.serves_extra_types(),
        ),
    };
    if granted.is_empty() {
        return Err(app.reject(
            "invalid_scope",
            "none of the requested scopes is supported".into(),
        ));
    }
    Ok(granted)
}

/// Registered URIs match exactly; without a registration any http loopback URI is accepted
/// (RFC 8252 7.3: native apps pick their port at run time).
fn redirect_allowed(shared: &Shared, redirect_uri: &str) -> bool {
    if let Some(registered) = &shared.config.registered_redirect_uris {
        return registered.iter().any(|r| r == redirect_uri);
    }
    let Ok(url) = Url::parse(redirect_uri) else {
        return false;
    };
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    };
    url.scheme() == "http" && loopback && url.fragment().is_none()
}

/// POST with txn + username + password.
fn sign_in(shared: &Shared, txn: &str, params: &Params) -> Response {
    let username = params.get("username").ok().flatten().unwrap_or_default();
    let password = params.get("password").ok().flatten().unwrap_or_default();
    let user = shared
        .user(username)
        .filter(|u| crypto::constant_time_eq(&u.password, password))
        .map(|u| (u.username.clone(), u.display_name.clone(), Vec::new()));
    let proxy = &shared.proxy;
    let user = user.or_else(|| {
        (proxy.username == username && crypto::constant_time_eq(&proxy.password, password)).then(
            || {
                let patients = proxy
                    .patients
                    .iter()
                    .filter_map(|id| {
                        let u = shared.users.iter().find(|u| &u.patient_id == id)?;
                        Some((u.patient_id.clone(), u.display_name.clone()))
                    })
                    .collect();
                (proxy.username.clone(), proxy.display_name.clone(), patients)
            },
        )
    });
    let mut auth = shared.auth();
    let Some(transaction) = auth.transaction(txn) else {
        return html::error("This sign-in page has expired.");
    };
    let client_id = transaction.request.client_id.clone();
    match user {
        None => html::login(txn, &client_id, Some("Wrong username or password.")),
        Some((username, display_name, patients)) => {
            transaction.signed_in = Some(username);
            html::consent(&html::Consent {
                txn,
                client_id: &client_id,
                user_name: &display_name,
                requested: &transaction.request.requested_scope,
                scopes: &transaction.request.granted_scope,
                patients: &patients,
            })
        }
    }
}

/// POST with txn + decision, and for Allow the scopes granted (`grant`, a subset of those
/// asked for, granular ones included) and, for a proxy, the `patient` chosen.
fn decide(shared: &Shared, txn: &str, decision: &str, params: &Params) -> Response {
    if decision != "allow" && decision != "deny" {
        return html::error("Unknown consent decision.");
    }
    let Some(transaction) = shared.auth().finish_transaction(txn) else {
        return html::error("This consent page has expired.");
    };
    let mut request = transaction.request;
    let signed_in = transaction.signed_in.as_deref();
    let chosen = params.get("patient").ok().flatten();
    let proxy = &shared.proxy;
    let patient = match signed_in {
        Some(name) if name == proxy.username => {
            request.proxy = Some(name.to_owned());
            match chosen {
                Some(id) if proxy.patients.iter().any(|p| p == id) => Some(id.to_owned()),
                Some(_) => return html::error("That patient is not one you may act for."),
                None => proxy.patients.first().cloned(),
            }
        }
        Some(name) => shared.user(name).map(|user| user.patient_id.clone()),
        None => None,
    };
    let Some(patient) = patient else {
        return html::error("Sign in before answering the consent page.");
    };
    if let Ok(Some(grant)) = params.get("grant") {
        if !grant
            .split_whitespace()
            .all(|s| scopes::narrows(s, &request.granted_scope))
        {
            return html::error("Only scopes the app asked for (or narrower ones) can be granted.");
        }
        request.granted_scope = grant.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if decision == "allow" {
        return grant_code(shared, &request, &patient);
    }
    redirect_to_app(
        shared,
        &request.redirect_uri,
        &[
            ("error", "access_denied"),
            ("error_description", "The patient denied access"),
            ("state", &request.state),
        ],
    )
}

fn grant_code(shared: &Shared, request: &AuthRequest, patient: &str) -> Response {
    let code = shared.auth().issue_code(request, patient);
    shared.secrets.record(&code);
    redirect_to_app(
        shared,
        &request.redirect_uri,
        &[("code", &code), ("state", &request.state)],
    )
}

/// 302 to the app's (already verified) redirect URI with `pairs` and, when configured, the
/// RFC 9207 `iss`.
fn redirect_to_app(shared: &Shared, redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return html::error("The redirect URI is not a valid URL.");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if shared.config.iss_parameter {
            if shared.hostile().wrong_iss {
                query.append_pair("iss", "https://impostor.example/oauth");
            } else {
                query.append_pair("iss", &shared.issuer);
            }
        }
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}
