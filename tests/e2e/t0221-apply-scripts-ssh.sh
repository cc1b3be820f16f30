#!/usr/bin/env bash
# t0220's script rules (exit codes, output tails, timeouts, hung scripts)
# again, through the ssh executor on a real sshd on loopback.
DROVER_APPLY_OVER_SSH=1 DROVER_TEST_NAME=t0221-apply-scripts-ssh exec bash "$(dirname "$0")/t0220-apply-scripts.sh"
