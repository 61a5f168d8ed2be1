
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'fhirdl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'fhirdl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'fhirdl' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in to a provider in the browser and save the profile')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Download every resource you may read into local NDJSON/JSON files (incrementally)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show each profile''s provider, patient, granted scopes and token state')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke the tokens at the provider and forget them (and the profile)')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'List, show or remove saved profiles, and say which are one person')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Make the app''s private key for private_key_jwt sign-in and print its public key set')
            [CompletionResult]::new('directory', 'directory', [CompletionResultType]::ParameterValue, 'Download the published directories of practices and their FHIR endpoints')
            [CompletionResult]::new('find', 'find', [CompletionResultType]::ParameterValue, 'Find your practice by name in the downloaded directories, with the command to sign in')
            [CompletionResult]::new('providers', 'providers', [CompletionResultType]::ParameterValue, 'List the built-in provider presets and their endpoints, or the known server quirks')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('sandbox', 'sandbox', [CompletionResultType]::ParameterValue, 'Run the embedded SMART on FHIR test server in the foreground')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check, step by step, why a connection to a provider fails (network, TLS, SMART, sign-in)')
            [CompletionResult]::new('view', 'view', [CompletionResultType]::ParameterValue, 'Write record.html: the export as one page to read, print or share (offline, with charts)')
            [CompletionResult]::new('bundle', 'bundle', [CompletionResultType]::ParameterValue, 'Write the export as one FHIR Bundle (collection or transaction) for other apps')
            [CompletionResult]::new('unbundle', 'unbundle', [CompletionResultType]::ParameterValue, 'Split a FHIR Bundle (plain or gzip) into <Type>.ndjson files, one resource per line')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List the versions of one resource the export holds (current and superseded), or print one')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Read the whole export back and check it against its manifests (offline, read-only)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try fhirdl end to end against the embedded sandbox: no account, no internet')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (fhirdl.1 and one per command) into DIR; `man/` holds them')
            [CompletionResult]::new('sandbox-browser', 'sandbox-browser', [CompletionResultType]::ParameterValue, 'A scripted browser for the sandbox''s login page (used as $BROWSER by the tests)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;login' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'A built-in provider preset (see `fhirdl providers`)')
            [CompletionResult]::new('--fhir-base', '--fhir-base', [CompletionResultType]::ParameterName, 'The FHIR base URL of any SMART on FHIR server (overrides the preset''s)')
            [CompletionResult]::new('--practice', '--practice', [CompletionResultType]::ParameterName, 'Your practice, by its id from `fhirdl find` or words of its name: signs in to the FHIR base the endpoint directories list for it (see `fhirdl directory update`)')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'The client id of your app registration')
            [CompletionResult]::new('--client-key', '--client-key', [CompletionResultType]::ParameterName, 'Authenticate the app with this private key (private_key_jwt) instead of a secret: PEM PKCS#8 or a JWK with its private members, ES384 (P-384) or RS384 (RSA ≥ 2048 bits). Kept in the credential store only; `fhirdl key create` makes one instead')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Scopes to request instead of the ones fhirdl chooses from the server''s capabilities')
            [CompletionResult]::new('--redirect-uri', '--redirect-uri', [CompletionResultType]::ParameterName, 'A registered redirect URI that is not a loopback address (e.g. an https page of yours, for providers that refuse loopback redirects). The browser lands there; paste the address it shows (implies --paste). Kept in the profile')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Fixed loopback port for the redirect URI (default: an ephemeral port)')
            [CompletionResult]::new('--redirect-path', '--redirect-path', [CompletionResultType]::ParameterName, 'Path of the redirect URI (default /callback)')
            [CompletionResult]::new('--redirect-host', '--redirect-host', [CompletionResultType]::ParameterName, 'Host name in the redirect URI')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the browser sign-in (e.g. 300, 90s, 5m)')
            [CompletionResult]::new('--credential-store', '--credential-store', [CompletionResultType]::ParameterName, 'Where to keep the tokens: the OS keyring, or an owner-only file in the data folder')
            [CompletionResult]::new('--search-param', '--search-param', [CompletionResultType]::ParameterName, 'A parameter sent with every search, kept in the profile; repeat for more (athenahealth: ah-practice=Organization/a-1.Practice-<practice id>). Given again, replaces them all')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('--confidential', '--confidential', [CompletionResultType]::ParameterName, 'The app is a confidential client: ask for its secret (FHIRDL_CLIENT_SECRET or a prompt)')
            [CompletionResult]::new('--register', '--register', [CompletionResultType]::ParameterName, 'After signing in, register this computer with the provider (dynamic client registration, where the server offers it) so later runs get tokens with a key kept here, without a browser; kept in the profile. Presets that need it (epic) register unless told `--no-register`')
            [CompletionResult]::new('--no-register', '--no-register', [CompletionResultType]::ParameterName, 'Do not register this computer (and forget a registration the profile has)')
            [CompletionResult]::new('--no-browser', '--no-browser', [CompletionResultType]::ParameterName, 'Do not open a browser; print the sign-in address instead')
            [CompletionResult]::new('--paste', '--paste', [CompletionResultType]::ParameterName, 'For remote machines: open the address anywhere, then paste back where the browser landed')
            [CompletionResult]::new('--no-aud', '--no-aud', [CompletionResultType]::ParameterName, 'Do not send the `aud` parameter (for servers that reject it)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;sync' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Export folder (default: <data dir>/exports/<profile>); remembered for the profile')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'ndjson: one <Type>.ndjson per type; json/both: also json/<Type>/<id>.json, pretty')
            [CompletionResult]::new('--types', '--types', [CompletionResultType]::ParameterName, 'Only these resource types (comma-separated)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Ask only for resources changed since this instant (e.g. 2026-01-01T00:00:00Z)')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Requests in flight at most [default: 64, or 256 over HTTP/2] (halved while the server answers 429/503 or times out; above 64, reached by growing while it keeps up)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'When another sync holds the folder, wait for it (up to DURATION, default 1h) instead of stopping')
            [CompletionResult]::new('--reconcile-every', '--reconcile-every', [CompletionResultType]::ParameterName, 'Fetch a type whole and compare when its last whole fetch is older than DAYS (0: every run); incremental searches miss edits that do not move meta.lastUpdated')
            [CompletionResult]::new('--max-rate', '--max-rate', [CompletionResultType]::ParameterName, 'Never send more requests than this (e.g. 20/min, 5/s); presets may set a default')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Download everything again and reconcile (resources gone from the server are set aside)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Fetch and report what would change, but write nothing')
            [CompletionResult]::new('--all-profiles', '--all-profiles', [CompletionResultType]::ParameterName, 'Sync every saved profile in turn (one summary, the worst exit code)')
            [CompletionResult]::new('--no-attachments', '--no-attachments', [CompletionResultType]::ParameterName, 'Do not download attachments (documents behind DocumentReference/DiagnosticReport)')
            [CompletionResult]::new('--view', '--view', [CompletionResultType]::ParameterName, 'Also write record.html in the export folder after the sync (see `fhirdl view`)')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Verify the export after the sync (see `fhirdl verify`; exit code 11 when damaged)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;status' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Do not contact the provider (skip the Patient read)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Show every profile, not only the selected one')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;logout' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('--keep-profile', '--keep-profile', [CompletionResultType]::ParameterName, 'Keep the profile''s settings; only forget the tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;profile' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List saved profiles')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one profile''s settings (no secrets are stored there)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)')
            [CompletionResult]::new('default', 'default', [CompletionResultType]::ParameterValue, 'Make a profile the default for commands run without --profile')
            [CompletionResult]::new('link', 'link', [CompletionResultType]::ParameterValue, 'Say that two profiles are the record of one person (overrides what their exports say)')
            [CompletionResult]::new('unlink', 'unlink', [CompletionResultType]::ParameterValue, 'Say that two profiles are the records of different people (overrides what their exports say)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;profile;list' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;profile;show' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;profile;remove' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;profile;default' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;profile;link' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;profile;unlink' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;profile;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List saved profiles')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one profile''s settings (no secrets are stored there)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)')
            [CompletionResult]::new('default', 'default', [CompletionResultType]::ParameterValue, 'Make a profile the default for commands run without --profile')
            [CompletionResult]::new('link', 'link', [CompletionResultType]::ParameterValue, 'Say that two profiles are the record of one person (overrides what their exports say)')
            [CompletionResult]::new('unlink', 'unlink', [CompletionResultType]::ParameterValue, 'Say that two profiles are the records of different people (overrides what their exports say)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;profile;help;list' {
            break
        }
        'fhirdl;profile;help;show' {
            break
        }
        'fhirdl;profile;help;remove' {
            break
        }
        'fhirdl;profile;help;default' {
            break
        }
        'fhirdl;profile;help;link' {
            break
        }
        'fhirdl;profile;help;unlink' {
            break
        }
        'fhirdl;profile;help;help' {
            break
        }
        'fhirdl;key' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a new key for the profile (replacing its old one) and print the public JWKS')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;key;create' {
            [CompletionResult]::new('--alg', '--alg', [CompletionResultType]::ParameterName, 'Signature algorithm [default: what the server advertises, else ES384]. An RS384 key is RSA, 2048 bits')
            [CompletionResult]::new('--jwks-out', '--jwks-out', [CompletionResultType]::ParameterName, 'Also write the public key set (JWKS) to FILE, to publish at a JWKS URL')
            [CompletionResult]::new('--credential-store', '--credential-store', [CompletionResultType]::ParameterName, 'Where to keep the private key [default: the profile''s store, else the keyring]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;key;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a new key for the profile (replacing its old one) and print the public JWKS')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;key;help;create' {
            break
        }
        'fhirdl;key;help;help' {
            break
        }
        'fhirdl;directory' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Download the vendors'' published directories into the local index (data folder)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;directory;update' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Read this directory instead of the built-in list and the settings file''s `directory_sources` (repeat for more): a FHIR Bundle of Organizations and Endpoints, plain or gzip')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;directory;help' {
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Download the vendors'' published directories into the local index (data folder)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;directory;help;update' {
            break
        }
        'fhirdl;directory;help;help' {
            break
        }
        'fhirdl;find' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Only practices in this state (two letters, e.g. IL)')
            [CompletionResult]::new('--city', '--city', [CompletionResultType]::ParameterName, 'Only practices in this city')
            [CompletionResult]::new('--vendor', '--vendor', [CompletionResultType]::ParameterName, 'Only endpoints of this EHR vendor (e.g. Epic, NextGen)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most N matches')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Check each match''s endpoint: its SMART configuration and CapabilityStatement')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;providers' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--quirks', '--quirks', [CompletionResultType]::ParameterName, 'List what fhirdl knows of each vendor''s servers (the rules that shape its searches), with the page documenting each rule and the day it was checked')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;completions' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;sandbox' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (127.0.0.1); 0 picks a free one')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed of the generated patients')
            [CompletionResult]::new('--ehr', '--ehr', [CompletionResultType]::ParameterName, 'Behave like this EHR as its vendor documents it (tokens, refresh rules, paging, search rules, documents)')
            [CompletionResult]::new('--resources', '--resources', [CompletionResultType]::ParameterName, 'Approximate number of resources per patient')
            [CompletionResult]::new('--fault-rate', '--fault-rate', [CompletionResultType]::ParameterName, 'Inject transient faults (429, 5xx, cut and broken answers, HTML pages, slow answers, expired tokens) into this share of FHIR data requests, 0 to 1')
            [CompletionResult]::new('--fault-seed', '--fault-seed', [CompletionResultType]::ParameterName, 'Seed of the injected faults (same seed, same faults for the same requests)')
            [CompletionResult]::new('--ca-out', '--ca-out', [CompletionResultType]::ParameterName, 'Where --tls writes its certificate (PEM, 0600) [default: <data dir>/sandbox-ca.pem]')
            [CompletionResult]::new('--latency-ms', '--latency-ms', [CompletionResultType]::ParameterName, 'Wait this long before answering each request, like a server that far away (the export benchmark measures 50, 100 and 300 ms)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--dstu2', '--dstu2', [CompletionResultType]::ParameterName, 'Serve a DSTU2 Conformance and DSTU2 resources instead of R4')
            [CompletionResult]::new('--stu3', '--stu3', [CompletionResultType]::ParameterName, 'Serve STU3 (FHIR 3.0.2) instead of R4')
            [CompletionResult]::new('--confidential', '--confidential', [CompletionResultType]::ParameterName, 'Also register a confidential client (its secret is printed)')
            [CompletionResult]::new('--nextgen', '--nextgen', [CompletionResultType]::ParameterName, 'The same as --ehr nextgen (categories required, pages of 25, /fhir/R4/ next links, raw PDF/XML documents, references outside the base)')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Serve HTTPS (HTTP/2 and HTTP/1.1 on the one port) with a self-signed certificate made at start; fhirdl trusts it through FHIRDL_CA_FILE')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;doctor' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('--fhir-base', '--fhir-base', [CompletionResultType]::ParameterName, 'Check this FHIR base instead of a saved profile (no signed-in checks)')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Also write the results, versions and the redacted HTTP trace to FILE (0600)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('--offline-checks-only', '--offline-checks-only', [CompletionResultType]::ParameterName, 'Only the checks on this computer; no network access')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;view' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Export folder to read (default: the profile''s, as `fhirdl sync` uses it)')
            [CompletionResult]::new('--page', '--page', [CompletionResultType]::ParameterName, 'Write the page to FILE instead of <DIR>/record.html (the export folder is --out)')
            [CompletionResult]::new('--profiles', '--profiles', [CompletionResultType]::ParameterName, 'One page of these profiles'' exports (one person''s providers), e.g. `--profiles a,b`')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--open', '--open', [CompletionResultType]::ParameterName, 'Open the page in the browser afterwards')
            [CompletionResult]::new('--all-profiles', '--all-profiles', [CompletionResultType]::ParameterName, 'One page of every saved profile''s export (one person''s providers), each row naming its source')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Put profiles on one page even when their records are not known to be one person''s')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;bundle' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Export folder (default: the profile''s, as `fhirdl sync` uses it)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the Bundle here ("-" for stdout) instead of <DIR>/record.bundle.json[.gz]')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'collection: a set of resources; transaction: PUT each one, to load into a FHIR server')
            [CompletionResult]::new('--profiles', '--profiles', [CompletionResultType]::ParameterName, 'One Bundle of these profiles'' exports (comma-separated names), each resource at its own server''s URL')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--gzip', '--gzip', [CompletionResultType]::ParameterName, 'Compress with gzip')
            [CompletionResult]::new('--no-attachments', '--no-attachments', [CompletionResultType]::ParameterName, 'Leave the saved documents (attachments/) out')
            [CompletionResult]::new('--all-profiles', '--all-profiles', [CompletionResultType]::ParameterName, 'One Bundle of the exports of every profile that has one')
            [CompletionResult]::new('--dedupe', '--dedupe', [CompletionResultType]::ParameterName, 'Leave out a resource whose text is exactly that of one already in the Bundle (the same resource exported by two profiles), and say how many')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;unbundle' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Folder for the <Type>.ndjson files (new or empty)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;history' {
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version N (1 = the oldest held) as it was stored')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Export folder (default: the profile''s, as `fhirdl sync` uses it)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'fhirdl;verify' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Export folder (default: the profile''s, as `fhirdl sync` uses it)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;demo' {
            [CompletionResult]::new('--trace-file', '--trace-file', [CompletionResultType]::ParameterName, 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Keep the demo''s files here instead of `<data dir>/demo`')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--trace-bodies', '--trace-bodies', [CompletionResultType]::ParameterName, 'Also write request and response bodies to the --trace-file (it will hold health data)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;man' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Folder for the pages')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;sandbox-browser' {
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Sandbox user name')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'Sandbox password')
            [CompletionResult]::new('--patient', '--patient', [CompletionResultType]::ParameterName, 'The patient a proxy account signs in for (default: the first offered)')
            [CompletionResult]::new('--grant', '--grant', [CompletionResultType]::ParameterName, 'Grant only this scope on the consent page (repeat for each scope granted; granular ones such as patient/Observation.rs?category=laboratory allowed). Default: all')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Folder for the settings file (default: the platform''s config folder)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Folder for exports and the file credential store (default: the platform''s data folder)')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Press Deny instead of Allow on the consent page')
            [CompletionResult]::new('--tamper-state', '--tamper-state', [CompletionResultType]::ParameterName, 'Replace the `state` in the final redirect (to test the state check)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors and warnings on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'fhirdl;help' {
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in to a provider in the browser and save the profile')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Download every resource you may read into local NDJSON/JSON files (incrementally)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show each profile''s provider, patient, granted scopes and token state')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke the tokens at the provider and forget them (and the profile)')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'List, show or remove saved profiles, and say which are one person')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Make the app''s private key for private_key_jwt sign-in and print its public key set')
            [CompletionResult]::new('directory', 'directory', [CompletionResultType]::ParameterValue, 'Download the published directories of practices and their FHIR endpoints')
            [CompletionResult]::new('find', 'find', [CompletionResultType]::ParameterValue, 'Find your practice by name in the downloaded directories, with the command to sign in')
            [CompletionResult]::new('providers', 'providers', [CompletionResultType]::ParameterValue, 'List the built-in provider presets and their endpoints, or the known server quirks')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('sandbox', 'sandbox', [CompletionResultType]::ParameterValue, 'Run the embedded SMART on FHIR test server in the foreground')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check, step by step, why a connection to a provider fails (network, TLS, SMART, sign-in)')
            [CompletionResult]::new('view', 'view', [CompletionResultType]::ParameterValue, 'Write record.html: the export as one page to read, print or share (offline, with charts)')
            [CompletionResult]::new('bundle', 'bundle', [CompletionResultType]::ParameterValue, 'Write the export as one FHIR Bundle (collection or transaction) for other apps')
            [CompletionResult]::new('unbundle', 'unbundle', [CompletionResultType]::ParameterValue, 'Split a FHIR Bundle (plain or gzip) into <Type>.ndjson files, one resource per line')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List the versions of one resource the export holds (current and superseded), or print one')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Read the whole export back and check it against its manifests (offline, read-only)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try fhirdl end to end against the embedded sandbox: no account, no internet')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (fhirdl.1 and one per command) into DIR; `man/` holds them')
            [CompletionResult]::new('sandbox-browser', 'sandbox-browser', [CompletionResultType]::ParameterValue, 'A scripted browser for the sandbox''s login page (used as $BROWSER by the tests)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'fhirdl;help;login' {
            break
        }
        'fhirdl;help;sync' {
            break
        }
        'fhirdl;help;status' {
            break
        }
        'fhirdl;help;logout' {
            break
        }
        'fhirdl;help;profile' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List saved profiles')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one profile''s settings (no secrets are stored there)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)')
            [CompletionResult]::new('default', 'default', [CompletionResultType]::ParameterValue, 'Make a profile the default for commands run without --profile')
            [CompletionResult]::new('link', 'link', [CompletionResultType]::ParameterValue, 'Say that two profiles are the record of one person (overrides what their exports say)')
            [CompletionResult]::new('unlink', 'unlink', [CompletionResultType]::ParameterValue, 'Say that two profiles are the records of different people (overrides what their exports say)')
            break
        }
        'fhirdl;help;profile;list' {
            break
        }
        'fhirdl;help;profile;show' {
            break
        }
        'fhirdl;help;profile;remove' {
            break
        }
        'fhirdl;help;profile;default' {
            break
        }
        'fhirdl;help;profile;link' {
            break
        }
        'fhirdl;help;profile;unlink' {
            break
        }
        'fhirdl;help;key' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a new key for the profile (replacing its old one) and print the public JWKS')
            break
        }
        'fhirdl;help;key;create' {
            break
        }
        'fhirdl;help;directory' {
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Download the vendors'' published directories into the local index (data folder)')
            break
        }
        'fhirdl;help;directory;update' {
            break
        }
        'fhirdl;help;find' {
            break
        }
        'fhirdl;help;providers' {
            break
        }
        'fhirdl;help;completions' {
            break
        }
        'fhirdl;help;sandbox' {
            break
        }
        'fhirdl;help;doctor' {
            break
        }
        'fhirdl;help;view' {
            break
        }
        'fhirdl;help;bundle' {
            break
        }
        'fhirdl;help;unbundle' {
            break
        }
        'fhirdl;help;history' {
            break
        }
        'fhirdl;help;verify' {
            break
        }
        'fhirdl;help;demo' {
            break
        }
        'fhirdl;help;man' {
            break
        }
        'fhirdl;help;sandbox-browser' {
            break
        }
        'fhirdl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
