#!/usr/bin/env bash
# `npm pack` makes a tarball that installs into an empty folder and runs there: the way users get gonogo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
cd "$work"
cat > package.json <<'JSON'
{ "name": "gonogo-smoke", "private": true, "allowScripts": { "better-sqlite3": true } }
JSON
npm install --no-audit --no-fund --silent "./$tarball"
npx gonogo --version
# The library entry point: what `import "gonogo"` gives a script of its own.
node --input-type=module -e "const m = await import('gonogo'); if (typeof m.decide !== 'function' || typeof m.runGate !== 'function') { console.error('gonogo library exports missing'); process.exit(1); }"
npx gonogo init
npx gonogo schema > /dev/null
# The template's url is ${STAGING_URL}: unset, the run is refused before anything is sent (2);
# set to a local port where nothing listens, the gate must answer NO-GO (1), not crash.
set +e
npx gonogo check --quiet --tier critical > refused.txt 2>&1
code=$?
set -e
if [ "$code" -ne 2 ]; then echo "expected exit 2 (STAGING_URL unset) from the template run, got $code"; cat refused.txt; exit 1; fi
set +e
STAGING_URL=http://127.0.0.1:9 npx gonogo check --quiet --tier critical > check.txt 2>&1
code=$?
set -e
tail -n 5 check.txt
if [ "$code" -ne 1 ]; then echo "expected exit 1 (NO-GO) from the template run, got $code"; cat check.txt; exit 1; fi
# status exits with the release's state: NO-GO here.
set +e
npx gonogo status > status.txt 2>&1
code=$?
set -e
if [ "$code" -ne 1 ]; then echo "expected exit 1 (NO-GO) from status, got $code"; cat status.txt; exit 1; fi
echo "pack smoke: ok"
