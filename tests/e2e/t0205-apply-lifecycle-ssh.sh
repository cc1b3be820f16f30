#!/usr/bin/env bash
# t0200's every lifecycle rule again, through the ssh executor on a real sshd
# on loopback: the same checks must hold for a target reached over ssh.
DROVER_APPLY_OVER_SSH=1 DROVER_TEST_NAME=t0205-apply-lifecycle-ssh exec bash "$(dirname "$0")/t0200-apply-lifecycle.sh"
