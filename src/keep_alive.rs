//! Keeping a sign-in alive: how long the provider lets a refresh token lie unused (the preset's
//! `refresh_token_max_age_hours` or the quirks list's `refresh` rule, whichever is shorter),
//! when the one held becomes unusable, and whether a sync refreshes before the access token
//! needs it, so that a daily backup never lets a 48 h refresh token lapse.
//!
//! A refresh token's idleness starts when it was issued or last used by a refresh
//! ([`Credentials::refresh_token_idle_since`]). Past half the limit, `status` and `doctor`
//! warn and a sync refreshes early, though never sooner after the last refresh than the
//! server allows (`min_interval_secs`).

use crate::auth::credentials::Credentials;
use crate::config::Profile;
use crate::datetime::{human_duration, unix_to_rfc3339};
use crate::quirks::{lower, Known};
use std::path::Path;

/// What is known of the provider's refresh tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshLimits {
    /// An unused refresh token dies after this many hours.
    pub idle_hours: Option<u32>,
    /// Refreshes closer together than this are refused.
    pub min_interval_secs: Option<u32>,
    /// Whether a refresh returns a new refresh token.
    pub rotates: Option<bool>,
}

impl RefreshLimits {
    /// The limits of the profile's server: its preset's and the quirks list's (the server
    /// recognised by its FHIR base host and the CapabilityStatement cached in `data_dir`).
    pub fn of(profile: &Profile, data_dir: &Path) -> RefreshLimits {
        let known = known_offline(data_dir, profile);
        RefreshLimits::from_known(profile, &known)
    }

    /// The limits of the profile's preset together with what `known` says of its server.
    pub fn from_known(profile: &Profile, known: &Known) -> RefreshLimits {
        let preset = profile
            .provider
            .as_deref()
            .and_then(crate::providers::find)
            .and_then(|p| p.refresh_token_max_age_hours);
        RefreshLimits {
            idle_hours: lower(preset, known.refresh_idle_hours),
            min_interval_secs: known.refresh_min_interval_secs,
            rotates: known.refresh_rotates,
        }
    }
}

/// Where the refresh token held stands against its idle limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle {
    /// Seconds since it was issued or last used.
    pub age_secs: i64,
    pub limit_hours: u32,
    /// When it becomes unusable if unused (Unix seconds).
    pub unusable_at: i64,
}

impl Idle {
    /// The refresh token held against `limits` at `now`: `None` without a refresh token, a
    /// known issue time or a known limit.
    pub fn of(limits: &RefreshLimits, creds: &Credentials, now: i64) -> Option<Idle> {
        let since = creds.refresh_token_idle_since()?;
        let limit_hours = limits.idle_hours?;
        Some(Idle {
            age_secs: now - since,
            limit_hours,
            unusable_at: since + i64::from(limit_hours) * 3600,
        })
    }

    /// More than half the limit has passed: time to use it.
    pub fn past_half(&self) -> bool {
        self.age_secs * 2 > i64::from(self.limit_hours) * 3600
    }

    /// The limit has passed: the server will refuse it.
    pub fn lapsed(&self) -> bool {
        self.age_secs >= i64::from(self.limit_hours) * 3600
    }

    /// "unused for 30 h of the provider's 48 h".
    pub fn describe(&self) -> String {
        format!(
            "unused for {} of the provider's {} h",
            human_duration(self.age_secs),
            self.limit_hours
        )
    }

    /// For `status`: what happens and what to do, once past half the limit.
    pub fn warning(&self, profile: &str) -> Option<String> {
        if !self.past_half() {
            return None;
        }
        let when = unix_to_rfc3339(self.unusable_at);
        let todo = format!("run `fhirdl sync --profile {profile}` (a sync refreshes the sign-in)");
        Some(if self.lapsed() {
            format!(
                "the refresh token is {}: it became unusable at {when}; {todo}, or sign in again with `fhirdl login --profile {profile}`",
                self.describe()
            )
        } else {
            format!(
                "the refresh token is {}: it becomes unusable at {when} unless used; {todo}",
                self.describe()
            )
        })
    }
}

/// Whether a sync refreshes now although the access token is still good: the refresh token
/// held has been idle past half its limit, and the last refresh is at least
/// `min_interval_secs` ago.
pub fn refresh_early(limits: &RefreshLimits, creds: &Credentials, now: i64) -> bool {
    let Some(idle) = Idle::of(limits, creds, now) else {
        return false;
    };
    let spaced = limits
        .min_interval_secs
        .is_none_or(|min| idle.age_secs >= i64::from(min));
    idle.past_half() && spaced
}

/// What fhirdl's quirks list knows of the server at `fhir_base`, recognised by its host and
/// the CapabilityStatement cached in `data_dir` (by the last sign-in or sync), without asking
/// it anything.
pub fn known_offline(data_dir: &std::path::Path, profile: &Profile) -> Known {
    let fhir_base = &profile.fhir_base;
    let Ok(url) = url::Url::parse(fhir_base) else {
        return Known::default();
    };
    let metadata = crate::sync::capabilities::cached(data_dir, fhir_base);
    let vendor = profile
        .provider
        .as_deref()
        .and_then(crate::providers::find)
        .and_then(|p| p.vendor);
    Known::built_in_for(&metadata.unwrap_or(serde_json::Value::Null), &url, vendor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    const NOW: i64 = 1_800_000_000;
    const HOUR: i64 = 3600;

    fn creds(issued_hours_ago: Option<i64>, used_hours_ago: Option<i64>) -> Credentials {
        Credentials {
            access_token: Secret::new("a"),
            expires_at: Some(NOW + HOUR),
            refresh_token: Some(Secret::new("r")),
            refresh_token_issued_at: issued_hours_ago.map(|h| NOW - h * HOUR),
            refresh_token_used_at: used_hours_ago.map(|h| NOW - h * HOUR),
            scope: String::new(),
            patient: None,
            encounter: None,
            fhir_user: None,
            user_name: None,
            launch: Default::default(),
            client_secret: None,
            signed_in_at: 0,
        }
    }

    fn limits(idle_hours: u32, min_interval_secs: Option<u32>) -> RefreshLimits {
        RefreshLimits {
            idle_hours: Some(idle_hours),
            min_interval_secs,
            rotates: None,
        }
    }

    #[test]
    fn a_sync_refreshes_early_past_half_the_idle_limit() {
        let nextgen = limits(48, None);
        // A daily cron job: a day and a bit since the last refresh.
        assert!(refresh_early(&nextgen, &creds(Some(25), None), NOW));
        assert!(!refresh_early(&nextgen, &creds(Some(23), None), NOW));
        assert!(!refresh_early(&nextgen, &creds(Some(24), None), NOW));
        // Past the limit it is tried anyway: the server decides.
        assert!(refresh_early(&nextgen, &creds(Some(49), None), NOW));
        // Used since it was issued (a server that does not rotate): idle from the use.
        let oracle = limits(2160, Some(60));
        assert!(refresh_early(&oracle, &creds(Some(1100), None), NOW));
        assert!(!refresh_early(&oracle, &creds(Some(1100), Some(2)), NOW));
        // No limit, no issue time or no refresh token: never early.
        assert!(!refresh_early(
            &RefreshLimits::default(),
            &creds(Some(5000), None),
            NOW
        ));
        assert!(!refresh_early(&nextgen, &creds(None, None), NOW));
        let mut none = creds(Some(30), None);
        none.refresh_token = None;
        assert!(!refresh_early(&nextgen, &none, NOW));
    }

    #[test]
    fn never_sooner_than_the_servers_least_interval() {
        // A limit so short that half of it is under the interval: the interval wins.
        let tight = RefreshLimits {
            idle_hours: Some(1),
            min_interval_secs: Some(3000),
            rotates: None,
        };
        let mut c = creds(None, None);
        c.refresh_token_issued_at = Some(NOW - 2000);
        assert!(!refresh_early(&tight, &c, NOW));
        c.refresh_token_issued_at = Some(NOW - 3000);
        assert!(refresh_early(&tight, &c, NOW));
    }

    #[test]
    fn the_warning_says_when_and_what_to_do() {
        let nextgen = limits(48, None);
        let fresh = Idle::of(&nextgen, &creds(Some(10), None), NOW).unwrap();
        assert_eq!(fresh.warning("clinic"), None);
        let old = Idle::of(&nextgen, &creds(Some(30), None), NOW).unwrap();
        assert_eq!(old.unusable_at, NOW + 18 * HOUR);
        let text = old.warning("clinic").unwrap();
        assert!(text.contains("of the provider's 48 h"), "{text}");
        assert!(text.contains(&unix_to_rfc3339(NOW + 18 * HOUR)), "{text}");
        assert!(text.contains("fhirdl sync --profile clinic"), "{text}");
        let lapsed = Idle::of(&nextgen, &creds(Some(50), None), NOW).unwrap();
        assert!(lapsed.lapsed());
        let text = lapsed.warning("clinic").unwrap();
        assert!(text.contains("became unusable"), "{text}");
        assert!(text.contains("fhirdl login --profile clinic"), "{text}");
    }
}
