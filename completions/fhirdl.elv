
use builtin;
use str;

set edit:completion:arg-completer[fhirdl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'fhirdl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'fhirdl'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Sign in to a provider in the browser and save the profile'
            cand sync 'Download every resource you may read into local NDJSON/JSON files (incrementally)'
            cand status 'Show each profile''s provider, patient, granted scopes and token state'
            cand logout 'Revoke the tokens at the provider and forget them (and the profile)'
            cand profile 'List, show or remove saved profiles, and say which are one person'
            cand key 'Make the app''s private key for private_key_jwt sign-in and print its public key set'
            cand directory 'Download the published directories of practices and their FHIR endpoints'
            cand find 'Find your practice by name in the downloaded directories, with the command to sign in'
            cand providers 'List the built-in provider presets and their endpoints, or the known server quirks'
            cand completions 'Print a shell completion script'
            cand sandbox 'Run the embedded SMART on FHIR test server in the foreground'
            cand doctor 'Check, step by step, why a connection to a provider fails (network, TLS, SMART, sign-in)'
            cand view 'Write record.html: the export as one page to read, print or share (offline, with charts)'
            cand bundle 'Write the export as one FHIR Bundle (collection or transaction) for other apps'
            cand unbundle 'Split a FHIR Bundle (plain or gzip) into <Type>.ndjson files, one resource per line'
            cand history 'List the versions of one resource the export holds (current and superseded), or print one'
            cand verify 'Read the whole export back and check it against its manifests (offline, read-only)'
            cand demo 'Try fhirdl end to end against the embedded sandbox: no account, no internet'
            cand man 'Write the man pages (fhirdl.1 and one per command) into DIR; `man/` holds them'
            cand sandbox-browser 'A scripted browser for the sandbox''s login page (used as $BROWSER by the tests)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;login'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand --provider 'A built-in provider preset (see `fhirdl providers`)'
            cand --fhir-base 'The FHIR base URL of any SMART on FHIR server (overrides the preset''s)'
            cand --practice 'Your practice, by its id from `fhirdl find` or words of its name: signs in to the FHIR base the endpoint directories list for it (see `fhirdl directory update`)'
            cand --client-id 'The client id of your app registration'
            cand --client-key 'Authenticate the app with this private key (private_key_jwt) instead of a secret: PEM PKCS#8 or a JWK with its private members, ES384 (P-384) or RS384 (RSA ≥ 2048 bits). Kept in the credential store only; `fhirdl key create` makes one instead'
            cand --scope 'Scopes to request instead of the ones fhirdl chooses from the server''s capabilities'
            cand --redirect-uri 'A registered redirect URI that is not a loopback address (e.g. an https page of yours, for providers that refuse loopback redirects). The browser lands there; paste the address it shows (implies --paste). Kept in the profile'
            cand --port 'Fixed loopback port for the redirect URI (default: an ephemeral port)'
            cand --redirect-path 'Path of the redirect URI (default /callback)'
            cand --redirect-host 'Host name in the redirect URI'
            cand --timeout 'How long to wait for the browser sign-in (e.g. 300, 90s, 5m)'
            cand --credential-store 'Where to keep the tokens: the OS keyring, or an owner-only file in the data folder'
            cand --search-param 'A parameter sent with every search, kept in the profile; repeat for more (athenahealth: ah-practice=Organization/a-1.Practice-<practice id>). Given again, replaces them all'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand --confidential 'The app is a confidential client: ask for its secret (FHIRDL_CLIENT_SECRET or a prompt)'
            cand --register 'After signing in, register this computer with the provider (dynamic client registration, where the server offers it) so later runs get tokens with a key kept here, without a browser; kept in the profile. Presets that need it (epic) register unless told `--no-register`'
            cand --no-register 'Do not register this computer (and forget a registration the profile has)'
            cand --no-browser 'Do not open a browser; print the sign-in address instead'
            cand --paste 'For remote machines: open the address anywhere, then paste back where the browser landed'
            cand --no-aud 'Do not send the `aud` parameter (for servers that reject it)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;sync'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand --out 'Export folder (default: <data dir>/exports/<profile>); remembered for the profile'
            cand --format 'ndjson: one <Type>.ndjson per type; json/both: also json/<Type>/<id>.json, pretty'
            cand --types 'Only these resource types (comma-separated)'
            cand --since 'Ask only for resources changed since this instant (e.g. 2026-01-01T00:00:00Z)'
            cand --concurrency 'Requests in flight at most [default: 64, or 256 over HTTP/2] (halved while the server answers 429/503 or times out; above 64, reached by growing while it keeps up)'
            cand --wait 'When another sync holds the folder, wait for it (up to DURATION, default 1h) instead of stopping'
            cand --reconcile-every 'Fetch a type whole and compare when its last whole fetch is older than DAYS (0: every run); incremental searches miss edits that do not move meta.lastUpdated'
            cand --max-rate 'Never send more requests than this (e.g. 20/min, 5/s); presets may set a default'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand --full 'Download everything again and reconcile (resources gone from the server are set aside)'
            cand --dry-run 'Fetch and report what would change, but write nothing'
            cand --all-profiles 'Sync every saved profile in turn (one summary, the worst exit code)'
            cand --no-attachments 'Do not download attachments (documents behind DocumentReference/DiagnosticReport)'
            cand --view 'Also write record.html in the export folder after the sync (see `fhirdl view`)'
            cand --verify 'Verify the export after the sync (see `fhirdl verify`; exit code 11 when damaged)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;status'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand --offline 'Do not contact the provider (skip the Patient read)'
            cand --all 'Show every profile, not only the selected one'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;logout'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand --keep-profile 'Keep the profile''s settings; only forget the tokens'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;profile'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List saved profiles'
            cand show 'Show one profile''s settings (no secrets are stored there)'
            cand remove 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)'
            cand default 'Make a profile the default for commands run without --profile'
            cand link 'Say that two profiles are the record of one person (overrides what their exports say)'
            cand unlink 'Say that two profiles are the records of different people (overrides what their exports say)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;profile;list'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;profile;show'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;profile;remove'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;profile;default'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;profile;link'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;profile;unlink'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;profile;help'= {
            cand list 'List saved profiles'
            cand show 'Show one profile''s settings (no secrets are stored there)'
            cand remove 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)'
            cand default 'Make a profile the default for commands run without --profile'
            cand link 'Say that two profiles are the record of one person (overrides what their exports say)'
            cand unlink 'Say that two profiles are the records of different people (overrides what their exports say)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;profile;help;list'= {
        }
        &'fhirdl;profile;help;show'= {
        }
        &'fhirdl;profile;help;remove'= {
        }
        &'fhirdl;profile;help;default'= {
        }
        &'fhirdl;profile;help;link'= {
        }
        &'fhirdl;profile;help;unlink'= {
        }
        &'fhirdl;profile;help;help'= {
        }
        &'fhirdl;key'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Make a new key for the profile (replacing its old one) and print the public JWKS'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;key;create'= {
            cand --alg 'Signature algorithm [default: what the server advertises, else ES384]. An RS384 key is RSA, 2048 bits'
            cand --jwks-out 'Also write the public key set (JWKS) to FILE, to publish at a JWKS URL'
            cand --credential-store 'Where to keep the private key [default: the profile''s store, else the keyring]'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;key;help'= {
            cand create 'Make a new key for the profile (replacing its old one) and print the public JWKS'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;key;help;create'= {
        }
        &'fhirdl;key;help;help'= {
        }
        &'fhirdl;directory'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand update 'Download the vendors'' published directories into the local index (data folder)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;directory;update'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand --source 'Read this directory instead of the built-in list and the settings file''s `directory_sources` (repeat for more): a FHIR Bundle of Organizations and Endpoints, plain or gzip'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;directory;help'= {
            cand update 'Download the vendors'' published directories into the local index (data folder)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;directory;help;update'= {
        }
        &'fhirdl;directory;help;help'= {
        }
        &'fhirdl;find'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand --state 'Only practices in this state (two letters, e.g. IL)'
            cand --city 'Only practices in this city'
            cand --vendor 'Only endpoints of this EHR vendor (e.g. Epic, NextGen)'
            cand --limit 'Show at most N matches'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand --check 'Check each match''s endpoint: its SMART configuration and CapabilityStatement'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;providers'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --quirks 'List what fhirdl knows of each vendor''s servers (the rules that shape its searches), with the page documenting each rule and the day it was checked'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;completions'= {
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;sandbox'= {
            cand --port 'Port to listen on (127.0.0.1); 0 picks a free one'
            cand --seed 'Seed of the generated patients'
            cand --ehr 'Behave like this EHR as its vendor documents it (tokens, refresh rules, paging, search rules, documents)'
            cand --resources 'Approximate number of resources per patient'
            cand --fault-rate 'Inject transient faults (429, 5xx, cut and broken answers, HTML pages, slow answers, expired tokens) into this share of FHIR data requests, 0 to 1'
            cand --fault-seed 'Seed of the injected faults (same seed, same faults for the same requests)'
            cand --ca-out 'Where --tls writes its certificate (PEM, 0600) [default: <data dir>/sandbox-ca.pem]'
            cand --latency-ms 'Wait this long before answering each request, like a server that far away (the export benchmark measures 50, 100 and 300 ms)'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --dstu2 'Serve a DSTU2 Conformance and DSTU2 resources instead of R4'
            cand --stu3 'Serve STU3 (FHIR 3.0.2) instead of R4'
            cand --confidential 'Also register a confidential client (its secret is printed)'
            cand --nextgen 'The same as --ehr nextgen (categories required, pages of 25, /fhir/R4/ next links, raw PDF/XML documents, references outside the base)'
            cand --tls 'Serve HTTPS (HTTP/2 and HTTP/1.1 on the one port) with a self-signed certificate made at start; fhirdl trusts it through FHIRDL_CA_FILE'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;doctor'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand --fhir-base 'Check this FHIR base instead of a saved profile (no signed-in checks)'
            cand --report 'Also write the results, versions and the redacted HTTP trace to FILE (0600)'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand --offline-checks-only 'Only the checks on this computer; no network access'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;view'= {
            cand --out 'Export folder to read (default: the profile''s, as `fhirdl sync` uses it)'
            cand --page 'Write the page to FILE instead of <DIR>/record.html (the export folder is --out)'
            cand --profiles 'One page of these profiles'' exports (one person''s providers), e.g. `--profiles a,b`'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --open 'Open the page in the browser afterwards'
            cand --all-profiles 'One page of every saved profile''s export (one person''s providers), each row naming its source'
            cand --force 'Put profiles on one page even when their records are not known to be one person''s'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;bundle'= {
            cand --out 'Export folder (default: the profile''s, as `fhirdl sync` uses it)'
            cand --output 'Write the Bundle here ("-" for stdout) instead of <DIR>/record.bundle.json[.gz]'
            cand --type 'collection: a set of resources; transaction: PUT each one, to load into a FHIR server'
            cand --profiles 'One Bundle of these profiles'' exports (comma-separated names), each resource at its own server''s URL'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --gzip 'Compress with gzip'
            cand --no-attachments 'Leave the saved documents (attachments/) out'
            cand --all-profiles 'One Bundle of the exports of every profile that has one'
            cand --dedupe 'Leave out a resource whose text is exactly that of one already in the Bundle (the same resource exported by two profiles), and say how many'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;unbundle'= {
            cand --out 'Folder for the <Type>.ndjson files (new or empty)'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;history'= {
            cand --version 'Print version N (1 = the oldest held) as it was stored'
            cand --out 'Export folder (default: the profile''s, as `fhirdl sync` uses it)'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'fhirdl;verify'= {
            cand --out 'Export folder (default: the profile''s, as `fhirdl sync` uses it)'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;demo'= {
            cand --trace-file 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)'
            cand --dir 'Keep the demo''s files here instead of `<data dir>/demo`'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --trace-bodies 'Also write request and response bodies to the --trace-file (it will hold health data)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;man'= {
            cand --out 'Folder for the pages'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;sandbox-browser'= {
            cand --user 'Sandbox user name'
            cand --password 'Sandbox password'
            cand --patient 'The patient a proxy account signs in for (default: the first offered)'
            cand --grant 'Grant only this scope on the consent page (repeat for each scope granted; granular ones such as patient/Observation.rs?category=laboratory allowed). Default: all'
            cand -p 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --profile 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)'
            cand --config-dir 'Folder for the settings file (default: the platform''s config folder)'
            cand --data-dir 'Folder for exports and the file credential store (default: the platform''s data folder)'
            cand --deny 'Press Deny instead of Allow on the consent page'
            cand --tamper-state 'Replace the `state` in the final redirect (to test the state check)'
            cand -v 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand --verbose 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
            cand -q 'Only errors and warnings on stderr'
            cand --quiet 'Only errors and warnings on stderr'
            cand --json 'Print one machine-readable JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'fhirdl;help'= {
            cand login 'Sign in to a provider in the browser and save the profile'
            cand sync 'Download every resource you may read into local NDJSON/JSON files (incrementally)'
            cand status 'Show each profile''s provider, patient, granted scopes and token state'
            cand logout 'Revoke the tokens at the provider and forget them (and the profile)'
            cand profile 'List, show or remove saved profiles, and say which are one person'
            cand key 'Make the app''s private key for private_key_jwt sign-in and print its public key set'
            cand directory 'Download the published directories of practices and their FHIR endpoints'
            cand find 'Find your practice by name in the downloaded directories, with the command to sign in'
            cand providers 'List the built-in provider presets and their endpoints, or the known server quirks'
            cand completions 'Print a shell completion script'
            cand sandbox 'Run the embedded SMART on FHIR test server in the foreground'
            cand doctor 'Check, step by step, why a connection to a provider fails (network, TLS, SMART, sign-in)'
            cand view 'Write record.html: the export as one page to read, print or share (offline, with charts)'
            cand bundle 'Write the export as one FHIR Bundle (collection or transaction) for other apps'
            cand unbundle 'Split a FHIR Bundle (plain or gzip) into <Type>.ndjson files, one resource per line'
            cand history 'List the versions of one resource the export holds (current and superseded), or print one'
            cand verify 'Read the whole export back and check it against its manifests (offline, read-only)'
            cand demo 'Try fhirdl end to end against the embedded sandbox: no account, no internet'
            cand man 'Write the man pages (fhirdl.1 and one per command) into DIR; `man/` holds them'
            cand sandbox-browser 'A scripted browser for the sandbox''s login page (used as $BROWSER by the tests)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'fhirdl;help;login'= {
        }
        &'fhirdl;help;sync'= {
        }
        &'fhirdl;help;status'= {
        }
        &'fhirdl;help;logout'= {
        }
        &'fhirdl;help;profile'= {
            cand list 'List saved profiles'
            cand show 'Show one profile''s settings (no secrets are stored there)'
            cand remove 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)'
            cand default 'Make a profile the default for commands run without --profile'
            cand link 'Say that two profiles are the record of one person (overrides what their exports say)'
            cand unlink 'Say that two profiles are the records of different people (overrides what their exports say)'
        }
        &'fhirdl;help;profile;list'= {
        }
        &'fhirdl;help;profile;show'= {
        }
        &'fhirdl;help;profile;remove'= {
        }
        &'fhirdl;help;profile;default'= {
        }
        &'fhirdl;help;profile;link'= {
        }
        &'fhirdl;help;profile;unlink'= {
        }
        &'fhirdl;help;key'= {
            cand create 'Make a new key for the profile (replacing its old one) and print the public JWKS'
        }
        &'fhirdl;help;key;create'= {
        }
        &'fhirdl;help;directory'= {
            cand update 'Download the vendors'' published directories into the local index (data folder)'
        }
        &'fhirdl;help;directory;update'= {
        }
        &'fhirdl;help;find'= {
        }
        &'fhirdl;help;providers'= {
        }
        &'fhirdl;help;completions'= {
        }
        &'fhirdl;help;sandbox'= {
        }
        &'fhirdl;help;doctor'= {
        }
        &'fhirdl;help;view'= {
        }
        &'fhirdl;help;bundle'= {
        }
        &'fhirdl;help;unbundle'= {
        }
        &'fhirdl;help;history'= {
        }
        &'fhirdl;help;verify'= {
        }
        &'fhirdl;help;demo'= {
        }
        &'fhirdl;help;man'= {
        }
        &'fhirdl;help;sandbox-browser'= {
        }
        &'fhirdl;help;help'= {
        }
    ]
    $completions[$command]
}
