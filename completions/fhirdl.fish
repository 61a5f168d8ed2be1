# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_fhirdl_global_optspecs
    string join \n p/profile= v/verbose q/quiet json config-dir= data-dir= h/help V/version
end

function __fish_fhirdl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_fhirdl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_fhirdl_using_subcommand
    set -l cmd (__fish_fhirdl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c fhirdl -n "__fish_fhirdl_needs_command" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_needs_command" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_needs_command" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_needs_command" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "login" -d 'Sign in to a provider in the browser and save the profile'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "sync" -d 'Download every resource you may read into local NDJSON/JSON files (incrementally)'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "status" -d 'Show each profile\'s provider, patient, granted scopes and token state'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "logout" -d 'Revoke the tokens at the provider and forget them (and the profile)'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "profile" -d 'List, show or remove saved profiles, and say which are one person'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "key" -d 'Make the app\'s private key for private_key_jwt sign-in and print its public key set'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "directory" -d 'Download the published directories of practices and their FHIR endpoints'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "find" -d 'Find your practice by name in the downloaded directories, with the command to sign in'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "providers" -d 'List the built-in provider presets and their endpoints, or the known server quirks'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "sandbox" -d 'Run the embedded SMART on FHIR test server in the foreground'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "doctor" -d 'Check, step by step, why a connection to a provider fails (network, TLS, SMART, sign-in)'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "view" -d 'Write record.html: the export as one page to read, print or share (offline, with charts)'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "bundle" -d 'Write the export as one FHIR Bundle (collection or transaction) for other apps'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "unbundle" -d 'Split a FHIR Bundle (plain or gzip) into <Type>.ndjson files, one resource per line'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "history" -d 'List the versions of one resource the export holds (current and superseded), or print one'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "verify" -d 'Read the whole export back and check it against its manifests (offline, read-only)'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "demo" -d 'Try fhirdl end to end against the embedded sandbox: no account, no internet'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "man" -d 'Write the man pages (fhirdl.1 and one per command) into DIR; `man/` holds them'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "sandbox-browser" -d 'A scripted browser for the sandbox\'s login page (used as $BROWSER by the tests)'
complete -c fhirdl -n "__fish_fhirdl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l provider -d 'A built-in provider preset (see `fhirdl providers`)' -r -f -a "nextgen-enterprise-r4\t''
nextgen-enterprise-dstu2\t''
nextgen-office-r4\t''
smart-sandbox\t''
epic\t''
oracle-health\t''
athena\t''
ecw\t''
meditech\t''
veradigm\t''"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l fhir-base -d 'The FHIR base URL of any SMART on FHIR server (overrides the preset\'s)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l practice -d 'Your practice, by its id from `fhirdl find` or words of its name: signs in to the FHIR base the endpoint directories list for it (see `fhirdl directory update`)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l client-id -d 'The client id of your app registration' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l client-key -d 'Authenticate the app with this private key (private_key_jwt) instead of a secret: PEM PKCS#8 or a JWK with its private members, ES384 (P-384) or RS384 (RSA ≥ 2048 bits). Kept in the credential store only; `fhirdl key create` makes one instead' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l scope -d 'Scopes to request instead of the ones fhirdl chooses from the server\'s capabilities' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l redirect-uri -d 'A registered redirect URI that is not a loopback address (e.g. an https page of yours, for providers that refuse loopback redirects). The browser lands there; paste the address it shows (implies --paste). Kept in the profile' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l port -d 'Fixed loopback port for the redirect URI (default: an ephemeral port)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l redirect-path -d 'Path of the redirect URI (default /callback)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l redirect-host -d 'Host name in the redirect URI' -r -f -a "127.0.0.1\t''
localhost\t''"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l timeout -d 'How long to wait for the browser sign-in (e.g. 300, 90s, 5m)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l credential-store -d 'Where to keep the tokens: the OS keyring, or an owner-only file in the data folder' -r -f -a "keyring\t'The OS credential store (Keychain, Credential Manager, Secret Service)'
file\t'An owner-only (0600) file in the data folder'"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l search-param -d 'A parameter sent with every search, kept in the profile; repeat for more (athenahealth: ah-practice=Organization/a-1.Practice-<practice id>). Given again, replaces them all' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l confidential -d 'The app is a confidential client: ask for its secret (FHIRDL_CLIENT_SECRET or a prompt)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l register -d 'After signing in, register this computer with the provider (dynamic client registration, where the server offers it) so later runs get tokens with a key kept here, without a browser; kept in the profile. Presets that need it (epic) register unless told `--no-register`'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l no-register -d 'Do not register this computer (and forget a registration the profile has)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l no-browser -d 'Do not open a browser; print the sign-in address instead'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l paste -d 'For remote machines: open the address anywhere, then paste back where the browser landed'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l no-aud -d 'Do not send the `aud` parameter (for servers that reject it)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand login" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l out -d 'Export folder (default: <data dir>/exports/<profile>); remembered for the profile' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l format -d 'ndjson: one <Type>.ndjson per type; json/both: also json/<Type>/<id>.json, pretty' -r -f -a "ndjson\t''
json\t''
both\t''"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l types -d 'Only these resource types (comma-separated)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l since -d 'Ask only for resources changed since this instant (e.g. 2026-01-01T00:00:00Z)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l concurrency -d 'Requests in flight at most [default: 64, or 256 over HTTP/2] (halved while the server answers 429/503 or times out; above 64, reached by growing while it keeps up)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l wait -d 'When another sync holds the folder, wait for it (up to DURATION, default 1h) instead of stopping' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l reconcile-every -d 'Fetch a type whole and compare when its last whole fetch is older than DAYS (0: every run); incremental searches miss edits that do not move meta.lastUpdated' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l max-rate -d 'Never send more requests than this (e.g. 20/min, 5/s); presets may set a default' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l full -d 'Download everything again and reconcile (resources gone from the server are set aside)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l dry-run -d 'Fetch and report what would change, but write nothing'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l all-profiles -d 'Sync every saved profile in turn (one summary, the worst exit code)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l no-attachments -d 'Do not download attachments (documents behind DocumentReference/DiagnosticReport)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l view -d 'Also write record.html in the export folder after the sync (see `fhirdl view`)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l verify -d 'Verify the export after the sync (see `fhirdl verify`; exit code 11 when damaged)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sync" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -l offline -d 'Do not contact the provider (skip the Patient read)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -l all -d 'Show every profile, not only the selected one'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand status" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -l keep-profile -d 'Keep the profile\'s settings; only forget the tokens'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand logout" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -f -a "list" -d 'List saved profiles'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -f -a "show" -d 'Show one profile\'s settings (no secrets are stored there)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -f -a "remove" -d 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -f -a "default" -d 'Make a profile the default for commands run without --profile'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -f -a "link" -d 'Say that two profiles are the record of one person (overrides what their exports say)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -f -a "unlink" -d 'Say that two profiles are the records of different people (overrides what their exports say)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and not __fish_seen_subcommand_from list show remove default link unlink help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from default" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from link" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from unlink" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "list" -d 'List saved profiles'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one profile\'s settings (no secrets are stored there)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "default" -d 'Make a profile the default for commands run without --profile'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "link" -d 'Say that two profiles are the record of one person (overrides what their exports say)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "unlink" -d 'Say that two profiles are the records of different people (overrides what their exports say)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -f -a "create" -d 'Make a new key for the profile (replacing its old one) and print the public JWKS'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and not __fish_seen_subcommand_from create help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -l alg -d 'Signature algorithm [default: what the server advertises, else ES384]. An RS384 key is RSA, 2048 bits' -r -f -a "ES384\t'ECDSA P-384 with SHA-384 (made here)'
RS384\t'RSASSA-PKCS1-v1_5 with SHA-384 (a 2048-bit key made here, or one you supply)'"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -l jwks-out -d 'Also write the public key set (JWKS) to FILE, to publish at a JWKS URL' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -l credential-store -d 'Where to keep the private key [default: the profile\'s store, else the keyring]' -r -f -a "keyring\t'The OS credential store (Keychain, Credential Manager, Secret Service)'
file\t'An owner-only (0600) file in the data folder'"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "create" -d 'Make a new key for the profile (replacing its old one) and print the public JWKS'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -f -a "update" -d 'Download the vendors\' published directories into the local index (data folder)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and not __fish_seen_subcommand_from update help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -l source -d 'Read this directory instead of the built-in list and the settings file\'s `directory_sources` (repeat for more): a FHIR Bundle of Organizations and Endpoints, plain or gzip' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from help" -f -a "update" -d 'Download the vendors\' published directories into the local index (data folder)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand directory; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l state -d 'Only practices in this state (two letters, e.g. IL)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l city -d 'Only practices in this city' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l vendor -d 'Only endpoints of this EHR vendor (e.g. Epic, NextGen)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l limit -d 'Show at most N matches' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l check -d 'Check each match\'s endpoint: its SMART configuration and CapabilityStatement'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand find" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -l quirks -d 'List what fhirdl knows of each vendor\'s servers (the rules that shape its searches), with the page documenting each rule and the day it was checked'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand providers" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l port -d 'Port to listen on (127.0.0.1); 0 picks a free one' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l seed -d 'Seed of the generated patients' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l ehr -d 'Behave like this EHR as its vendor documents it (tokens, refresh rules, paging, search rules, documents)' -r -f -a "epic\t''
oracle\t''
athena\t''
ecw\t''
meditech\t''
veradigm\t''
nextgen\t''"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l resources -d 'Approximate number of resources per patient' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l fault-rate -d 'Inject transient faults (429, 5xx, cut and broken answers, HTML pages, slow answers, expired tokens) into this share of FHIR data requests, 0 to 1' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l fault-seed -d 'Seed of the injected faults (same seed, same faults for the same requests)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l ca-out -d 'Where --tls writes its certificate (PEM, 0600) [default: <data dir>/sandbox-ca.pem]' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l latency-ms -d 'Wait this long before answering each request, like a server that far away (the export benchmark measures 50, 100 and 300 ms)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l dstu2 -d 'Serve a DSTU2 Conformance and DSTU2 resources instead of R4'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l stu3 -d 'Serve STU3 (FHIR 3.0.2) instead of R4'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l confidential -d 'Also register a confidential client (its secret is printed)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l nextgen -d 'The same as --ehr nextgen (categories required, pages of 25, /fhir/R4/ next links, raw PDF/XML documents, references outside the base)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l tls -d 'Serve HTTPS (HTTP/2 and HTTP/1.1 on the one port) with a self-signed certificate made at start; fhirdl trusts it through FHIRDL_CA_FILE'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l fhir-base -d 'Check this FHIR base instead of a saved profile (no signed-in checks)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l report -d 'Also write the results, versions and the redacted HTTP trace to FILE (0600)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l offline-checks-only -d 'Only the checks on this computer; no network access'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l out -d 'Export folder to read (default: the profile\'s, as `fhirdl sync` uses it)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l page -d 'Write the page to FILE instead of <DIR>/record.html (the export folder is --out)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l profiles -d 'One page of these profiles\' exports (one person\'s providers), e.g. `--profiles a,b`' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l open -d 'Open the page in the browser afterwards'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l all-profiles -d 'One page of every saved profile\'s export (one person\'s providers), each row naming its source'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l force -d 'Put profiles on one page even when their records are not known to be one person\'s'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand view" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l out -d 'Export folder (default: the profile\'s, as `fhirdl sync` uses it)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l output -d 'Write the Bundle here ("-" for stdout) instead of <DIR>/record.bundle.json[.gz]' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l type -d 'collection: a set of resources; transaction: PUT each one, to load into a FHIR server' -r -f -a "collection\t'A set of resources to keep or import (the default)'
transaction\t'PUT by type and id, to load into a FHIR server all or nothing'"
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l profiles -d 'One Bundle of these profiles\' exports (comma-separated names), each resource at its own server\'s URL' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l gzip -d 'Compress with gzip'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l no-attachments -d 'Leave the saved documents (attachments/) out'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l all-profiles -d 'One Bundle of the exports of every profile that has one'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l dedupe -d 'Leave out a resource whose text is exactly that of one already in the Bundle (the same resource exported by two profiles), and say how many'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand bundle" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -l out -d 'Folder for the <Type>.ndjson files (new or empty)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand unbundle" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -l version -d 'Print version N (1 = the oldest held) as it was stored' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -l out -d 'Export folder (default: the profile\'s, as `fhirdl sync` uses it)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand history" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -l out -d 'Export folder (default: the profile\'s, as `fhirdl sync` uses it)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand verify" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -l trace-file -d 'Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -l dir -d 'Keep the demo\'s files here instead of `<data dir>/demo`' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -l trace-bodies -d 'Also write request and response bodies to the --trace-file (it will hold health data)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand demo" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -l out -d 'Folder for the pages' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand man" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l user -d 'Sandbox user name' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l password -d 'Sandbox password' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l patient -d 'The patient a proxy account signs in for (default: the first offered)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l grant -d 'Grant only this scope on the consent page (repeat for each scope granted; granular ones such as patient/Observation.rs?category=laboratory allowed). Default: all' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -s p -l profile -d 'Profile: a saved provider sign-in (`login`: the name to save it under; other commands: defaults to the only or default profile)' -r
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l config-dir -d 'Folder for the settings file (default: the platform\'s config folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l data-dir -d 'Folder for exports and the file credential store (default: the platform\'s data folder)' -r -F
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l deny -d 'Press Deny instead of Allow on the consent page'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l tamper-state -d 'Replace the `state` in the final redirect (to test the state check)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -s v -l verbose -d 'More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP exchange, and with -vv its headers, redacted)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -s q -l quiet -d 'Only errors and warnings on stderr'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -l json -d 'Print one machine-readable JSON document on stdout'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -s h -l help -d 'Print help'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand sandbox-browser" -s V -l version -d 'Print version'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "login" -d 'Sign in to a provider in the browser and save the profile'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "sync" -d 'Download every resource you may read into local NDJSON/JSON files (incrementally)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "status" -d 'Show each profile\'s provider, patient, granted scopes and token state'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "logout" -d 'Revoke the tokens at the provider and forget them (and the profile)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "profile" -d 'List, show or remove saved profiles, and say which are one person'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "key" -d 'Make the app\'s private key for private_key_jwt sign-in and print its public key set'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "directory" -d 'Download the published directories of practices and their FHIR endpoints'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "find" -d 'Find your practice by name in the downloaded directories, with the command to sign in'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "providers" -d 'List the built-in provider presets and their endpoints, or the known server quirks'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "completions" -d 'Print a shell completion script'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "sandbox" -d 'Run the embedded SMART on FHIR test server in the foreground'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "doctor" -d 'Check, step by step, why a connection to a provider fails (network, TLS, SMART, sign-in)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "view" -d 'Write record.html: the export as one page to read, print or share (offline, with charts)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "bundle" -d 'Write the export as one FHIR Bundle (collection or transaction) for other apps'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "unbundle" -d 'Split a FHIR Bundle (plain or gzip) into <Type>.ndjson files, one resource per line'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "history" -d 'List the versions of one resource the export holds (current and superseded), or print one'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "verify" -d 'Read the whole export back and check it against its manifests (offline, read-only)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "demo" -d 'Try fhirdl end to end against the embedded sandbox: no account, no internet'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "man" -d 'Write the man pages (fhirdl.1 and one per command) into DIR; `man/` holds them'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "sandbox-browser" -d 'A scripted browser for the sandbox\'s login page (used as $BROWSER by the tests)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and not __fish_seen_subcommand_from login sync status logout profile key directory find providers completions sandbox doctor view bundle unbundle history verify demo man sandbox-browser help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "list" -d 'List saved profiles'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "show" -d 'Show one profile\'s settings (no secrets are stored there)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "remove" -d 'Remove a profile and its stored credentials (without revoking; see `fhirdl logout`)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "default" -d 'Make a profile the default for commands run without --profile'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "link" -d 'Say that two profiles are the record of one person (overrides what their exports say)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "unlink" -d 'Say that two profiles are the records of different people (overrides what their exports say)'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "create" -d 'Make a new key for the profile (replacing its old one) and print the public JWKS'
complete -c fhirdl -n "__fish_fhirdl_using_subcommand help; and __fish_seen_subcommand_from directory" -f -a "update" -d 'Download the vendors\' published directories into the local index (data folder)'
