#!/usr/bin/env bash
# Run a command against a throwaway DynamoDB emulator (moto) on a free loopback port.
#
#   infra/scripts/moto.sh cargo test -p mcp-oauth dynamo   # one command; moto stops after it
#   infra/scripts/moto.sh                                  # serve until Ctrl-C
#
# The command gets DYNAMODB_TEST_ENDPOINT=http://127.0.0.1:PORT and dummy AWS credentials and
# region (AWS_ACCESS_KEY_ID=test, AWS_SECRET_ACCESS_KEY=test, AWS_REGION=us-east-1). moto logs to
# .tools/logs/moto.log. Needs the venv from infra/scripts/tools.sh.
#
# Not for: the full test run (infra/scripts/test.sh starts its own moto).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

moto_start
if (($# == 0)); then
    info "Ctrl-C to stop"
    wait "$MOTO_PID"
else
    with_test_aws "$@"
fi
