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
# The template's first environment is a local URL where nothing listens: the gate must answer NO-GO (1), not crash.
set +e
npx gonogo check --quiet --tier critical > check.txt 2>&1
code=$?
set -e
tail -n 5 check.txt
if [ "$code" -ne 1 ]; then echo "expected exit 1 (NO-GO) from the template run, got $code"; cat check.txt; exit 1; fi
npx gonogo status > /dev/null
echo "pack smoke: ok"
