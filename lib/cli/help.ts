/**
 * The help texts of the commands defined in lib/cli (the matrix has its own), kept apart from the code
 * that runs them so that `memseal --help` loads nothing else.
 */

export const EXIT_STATUS_HELP = `Exit status:
  0    nothing diverges or is broken (with --strict: nothing is known either)
  1    a clause diverges or is broken (with --strict: or is known)
  2    usage error: the command line is wrong, nothing was run
  70   memseal itself failed (a bug: the stack trace is printed)
  74   an output could not be written (a report file or standard output); the report is still printed
       where it can be
A reader that closes the pipe early (memseal list | head -1) ends memseal by SIGPIPE, as it ends
other tools (a shell shows 141).`

export const CHECK_OPTIONS_HELP = `  --json           print the JSON report (the stable contract)
  --tap            print TAP version 14
  --ktap           print KTAP version 1 (the kernel's test format: a subtest per area)
  --markdown       print Markdown tables
  --junit FILE     also write JUnit XML to FILE (checked before the run)
  --html FILE      also write one self-contained HTML page to FILE (checked before the run)
  --only GLOB      run only matching clause ids ('seal.*'; 'seal' matches seal.*); repeatable, comma lists ok
  --list           list clause ids and statements, run nothing
  --strict         also fail on known divergences
  -v, --verbose    print statements, sources and durations
  --workers N      worker processes (default 2)
  -h, --help       this text`

export const CHECK_USAGE = `Usage: memseal check [--json | --tap | --ktap | --markdown] [--junit FILE] [--html FILE] [--only GLOB]...
                     [--strict] [--verbose] [--workers N] [--list]

Runs the conformance suite on this kernel and compares each clause with the documentation.

${CHECK_OPTIONS_HELP}

${EXIT_STATUS_HELP}
`

export const USAGE = `Usage: memseal [command] [options]

Commands:
COMMANDS

Options of check (memseal without a command runs check):
${CHECK_OPTIONS_HELP}
  -V, --version    the version

Run 'memseal COMMAND --help' for the options of another command.

${EXIT_STATUS_HELP}
`
