# ssh_lib.sh - a real OpenSSH server on a loopback port for the ssh
# executor's tests.  Source it after lib.sh; start_sshd sets:
#   SSHD_PORT, SSHD_PID        the server (the caller stops it on exit)
#   SSH_KEY, SSH_KNOWN_HOSTS   the client key it accepts, and its host key
#   SSH_FLAGS                  the worker flags that reach it
# The server runs as the test's user and lets only that user in, with the key.
SSHD=/usr/sbin/sshd
# The prerequisite of every case that goes through it.
test_lazy_prereq SSHD '[ -x "$SSHD" ] && command -v ssh-keygen && command -v ssh'

start_sshd() {
  local dir="$WORK/sshd" port try
  [ -x "$SSHD" ] || fail "no $SSHD (scripts/install-deps.sh installs openssh-server)"
  mkdir -p "$dir"
  ssh-keygen -q -t ed25519 -N '' -C drover-test-host -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C drover-test-client -f "$dir/client_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  # sshd running as root wants its privilege separation directory.
  if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $(id -un)
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
MaxStartups 200
MaxSessions 200
LogLevel VERBOSE
# bash sources ~/.bashrc for a command run over ssh only at shell level 1; the
# test user's rc files are not part of what is tested (and may be slow).
SetEnv SHLVL=1
CONF
    : >"$dir/sshd.log"
    "$SSHD" -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
    SSHD_PID=$!
    for _ in $(seq 1 100); do
      grep -q "Server listening" "$dir/sshd.log" && break
      kill -0 "$SSHD_PID" 2>/dev/null || break
      sleep 0.05
    done
    if grep -q "Server listening" "$dir/sshd.log"; then
      SSHD_PORT=$port
      SSH_KEY="$dir/client_ed25519"
      SSH_KNOWN_HOSTS="$dir/known_hosts"
      echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$SSH_KNOWN_HOSTS"
      SSH_FLAGS=(--ssh-key "$SSH_KEY" --ssh-known-hosts "$SSH_KNOWN_HOSTS" --ssh-user "$(id -un)")
      return 0
    fi
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
  done
  fail "sshd did not start: $(cat "$dir/sshd.log")"
}
