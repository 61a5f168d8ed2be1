//! The HTML a patient sees during login: sign-in form, consent page and error page. Every
//! interpolated value is escaped; the forms are what `browser::sign_in` fills in.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <title>{title} - fhirdl sandbox EHR</title></head>\n<body>\n\
         <h1>fhirdl sandbox EHR</h1>\n{body}\n</body>\n</html>\n",
        title = escape(title)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// The sign-in form; `error` is shown above it after a failed attempt.
pub(crate) fn login(txn: &str, client_id: &str, error: Option<&str>) -> Response {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e))
    });
    let body = format!(
        "<p>Sign in to share your health record with <b>{client}</b>.</p>\n{error}\
         <form method=\"post\" action=\"/oauth/authorize\">\n\
         <input type=\"hidden\" name=\"txn\" value=\"{txn}\">\n\
         <label>Username <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\n\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n\
         <p>Test accounts: alice / alice-sandbox, bob / bob-sandbox.</p>",
        client = escape(client_id),
        txn = escape(txn),
    );
    page(StatusCode::OK, "Sign in", &body)
}

/// The consent page listing the scopes the app asked for.
/// What the consent page shows.
pub(crate) struct Consent<'a> {
    pub txn: &'a str,
    pub client_id: &'a str,
    /// Who signed in (the patient, or a proxy).
    pub user_name: &'a str,
    /// The scopes the app asked for, space separated.
    pub requested: &'a str,
    /// The scopes the app may be granted (those the sandbox recognises), space separated.
    pub scopes: &'a str,
    /// `(patient id, name)` a proxy may choose from; empty for a patient's own account.
    pub patients: &'a [(String, String)],
}

/// The consent page: the scopes (the `grant` field may be narrowed to a subset, granular
/// scopes such as `patient/Observation.rs?category=laboratory` included) and, for a proxy, a
/// choice of patient.
pub(crate) fn consent(c: &Consent<'_>) -> Response {
    let items: String = c
        .requested
        .split_whitespace()
        .map(|s| format!("<li><code>{}</code></li>\n", escape(s)))
        .collect();
    let choices: String = c
        .patients
        .iter()
        .enumerate()
        .map(|(i, (id, name))| {
            format!(
                "<label><input type=\"radio\" name=\"patient\" value=\"{}\"{}> {}</label><br>\n",
                escape(id),
                if i == 0 { " checked" } else { "" },
                escape(name)
            )
        })
        .collect();
    let choose = if choices.is_empty() {
        String::new()
    } else {
        format!("<p>Whose record?</p>\n{choices}")
    };
    let body = format!(
        "<p>Signed in as {name}.</p>\n\
         <p><b>{client}</b> asks for access to your record:</p>\n<ul>\n{items}</ul>\n\
         <form method=\"post\" action=\"/oauth/authorize\">\n\
         <input type=\"hidden\" name=\"txn\" value=\"{txn}\">\n{choose}\
         <label>Allow only <input type=\"text\" name=\"grant\" value=\"{scopes}\"></label><br>\n\
         <button name=\"decision\" value=\"allow\">Allow</button>\n\
         <button name=\"decision\" value=\"deny\">Deny</button>\n</form>",
        name = escape(c.user_name),
        client = escape(c.client_id),
        txn = escape(c.txn),
        scopes = escape(c.scopes),
    );
    page(StatusCode::OK, "Allow access", &body)
}

/// An error the app cannot be told about (bad client or redirect URI, stale transaction).
pub(crate) fn error(message: &str) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p>\n<p>Return to the app and start again.</p>",
        escape(message)
    );
    page(StatusCode::BAD_REQUEST, "Error", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
