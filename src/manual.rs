//! The reference sections `fhirdl --help` ends with and the man page renders: exit codes,
//! environment variables, files. One table each, so that the help, `man fhirdl` and the README
//! (which the house test compares) cannot disagree.
//!
//! [`crate::cli`] puts [`exit_codes_help`] after `-h` and [`long_help`] after `--help`;
//! [`crate::commands::man`] renders the same [`SECTIONS`] as roff.

/// One reference section: a title and (term, meaning) entries.
pub struct Section {
    /// As the help prints it ("Exit codes"); the man page upper-cases [`Section::man_title`].
    pub title: &'static str,
    /// The man page's own name for it (`EXIT STATUS`, `ENVIRONMENT`, `FILES`, as man-pages(7)).
    pub man_title: &'static str,
    pub entries: &'static [(&'static str, &'static str)],
}

/// Every documented exit code with its meaning; [`crate::error::Kind::exit_code`] picks them.
pub const EXIT_CODES: Section = Section {
    title: "Exit codes",
    man_title: "EXIT STATUS",
    entries: &[
        ("0", "success"),
        ("1", "unexpected error"),
        (
            "2",
            "usage error (bad flags, missing client secret without a terminal, unknown profile)",
        ),
        (
            "3",
            "partial success (some resource types failed or documents could not be saved; see the summary)",
        ),
        (
            "4",
            "login required (not signed in, or the refresh token expired or was revoked)",
        ),
        (
            "5",
            "sign-in failed (denied in the browser, state mismatch, timeout, code rejected)",
        ),
        (
            "6",
            "network or server error (unreachable, not a FHIR/SMART server, bad response)",
        ),
        (
            "7",
            "credential store unavailable (use --credential-store file on headless machines)",
        ),
        ("8", "another fhirdl run holds the lock"),
        ("9", "fhirdl doctor: at least one check failed (see its table)"),
        (
            "10",
            "cannot write to disk (disk full, file too large, read-only or not permitted)",
        ),
        (
            "11",
            "fhirdl verify: the export is damaged (each damaged file is named)",
        ),
        ("130", "interrupted (Ctrl-C)"),
    ],
};

/// Every environment variable fhirdl reads.
pub const ENVIRONMENT: Section = Section {
    title: "Environment",
    man_title: "ENVIRONMENT",
    entries: &[
        ("FHIRDL_PROFILE", "the profile to use, as --profile"),
        ("FHIRDL_CONFIG_DIR", "the settings folder, as --config-dir"),
        ("FHIRDL_DATA_DIR", "the data folder, as --data-dir"),
        ("FHIRDL_TRACE_FILE", "the HTTP trace file, as --trace-file"),
        ("FHIRDL_CLIENT_ID", "the client id for fhirdl login, as --client-id"),
        (
            "FHIRDL_CLIENT_SECRET",
            "a confidential client's secret for fhirdl login (never taken from the command line; without it a terminal prompts)",
        ),
        (
            "FHIRDL_CA_FILE",
            "a PEM file of certificates to trust besides the built-in Mozilla roots (a TLS-inspecting proxy, a private authority, fhirdl sandbox --tls)",
        ),
        (
            "FHIRDL_HTTP_TIMEOUT",
            "the limit for one HTTP request (default 120 s; 90, 30s, 2m)",
        ),
        (
            "FHIRDL_RETRY_BASE_MS",
            "the first backoff step before a retry, in ms (default 400, doubling per retry)",
        ),
        (
            "BROWSER",
            "the program that opens the sign-in page (else xdg-open, open or rundll32)",
        ),
        ("NO_COLOR", "when set and not empty, no colour"),
        ("TERM", "dumb: no colour"),
        (
            "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY",
            "the proxy for HTTP requests (fhirdl doctor shows which are set)",
        ),
    ],
};

/// Every file and folder fhirdl keeps, by where it lives.
pub const FILES: Section = Section {
    title: "Files",
    man_title: "FILES",
    entries: &[
        (
            "<config dir>/config.toml",
            "every profile's settings, no secrets (config dir: ~/.config/fhirdl on Linux, ~/Library/Application Support/org.fhirdl.fhirdl on macOS, %APPDATA%\\fhirdl\\fhirdl\\config on Windows)",
        ),
        (
            "<data dir>/exports/<profile>/",
            "a profile's export folder unless sync --out chose another (data dir: ~/.local/share/fhirdl on Linux, as the config dir on macOS, %APPDATA%\\fhirdl\\fhirdl\\data on Windows)",
        ),
        (
            "<data dir>/credentials/<profile>.json",
            "the tokens of a profile signed in with --credential-store file (0600)",
        ),
        (
            "OS keyring, service fhirdl",
            "the tokens of a profile signed in with the default credential store, one entry per profile",
        ),
        (
            "<data dir>/cache/",
            "each server's CapabilityStatement, reused for a day",
        ),
        (
            "<data dir>/demo/",
            "fhirdl demo's own settings, credentials and export",
        ),
        (
            "<export>/<Type>.ndjson, manifest.json",
            "the record, one resource per line, and what each file should hold (size, sha256)",
        ),
        (
            "<export>/.fhirdl/",
            "sync state, the last run, the history of superseded versions, the lock",
        ),
    ],
};

/// The sections, in the order the help and the man page give them.
pub const SECTIONS: [&Section; 3] = [&EXIT_CODES, &ENVIRONMENT, &FILES];

impl Section {
    /// The section as `--help` prints it: the title, then one indented line per entry.
    pub fn help(&self) -> String {
        let width = self.entries.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
        let mut s = format!("{}:\n", self.title);
        for (term, meaning) in self.entries {
            if width > 12 {
                // Long terms (variables, paths) get their meaning on the next line.
                s.push_str(&format!("  {term}\n      {meaning}\n"));
            } else {
                s.push_str(&format!("  {term:<4} {meaning}\n"));
            }
        }
        s
    }
}

/// What `-h` ends with: the exit codes.
pub fn exit_codes_help() -> String {
    EXIT_CODES.help().trim_end().to_string()
}

/// What `--help` ends with: every section.
pub fn long_help() -> String {
    SECTIONS
        .iter()
        .map(|s| s.help())
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_keep_their_help_layout() {
        let help = exit_codes_help();
        assert!(help.starts_with("Exit codes:\n  0    success\n"), "{help}");
        assert!(help.ends_with("  130  interrupted (Ctrl-C)"), "{help}");
    }

    #[test]
    fn long_help_has_every_section_and_entry() {
        let help = long_help();
        for section in SECTIONS {
            assert!(help.contains(&format!("{}:\n", section.title)));
            for (term, meaning) in section.entries {
                assert!(help.contains(term) && help.contains(meaning), "{term}");
            }
        }
    }
}
