#!/bin/sh
# Stands in for the VS Code executable in @vscode/test-electron's runTests() (its
# vscodeExecutablePath): the arguments VS Code would get are handed to vscodeLauncher.ts, which
# runs the extension tests in code-server.
cd "$(dirname "$0")/../.." || exit 1
exec node --import tsx test/vscode/vscodeLauncher.ts "$@"
