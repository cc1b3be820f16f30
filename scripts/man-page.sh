#!/usr/bin/env bash
# man-page.sh PROGRAM OUT: PROGRAM's man page, gzipped into OUT (NAME.1.gz),
# made by help2man from the program's own --help and --version.  The build
# runs it for each program when the program changes (CMakeLists.txt).
#
# help2man reads the version (the footer) and the --help; its own reading
# of our --help is rough (it knows "Usage:", not "usage:", and runs each
# setting's lines together), so the sections come from the include file
# made here, from the same --help texts:
#   - SYNOPSIS: the usage lines;
#   - DESCRIPTION (in place of help2man's): the text after them;
#   - SETTINGS: the settings table (flag, environment variable, default),
#     one tagged paragraph each;
#   - COMMANDS (drover-producer, drover-worker): every verb's own --help,
#     its usage, description and settings, so one page has the whole manual;
#   - FILES and SEE ALSO: the settings files the systemd units read.
set -euo pipefail
bin=$1 out=$2
name=$(basename "$bin")
case $name in
  drover-producer) summary="publish packages, register targets, deploy, and run the control plane (serve)" ;;
  drover-worker) summary="run package jobs on targets: one at a time (apply) or from Kafka (run)" ;;
  drover-aggregator) summary="fold status events into per-deployment rollups, served as JSON, a page and metrics" ;;
  drover-broker) summary="the embedded Kafka broker (librdkafka's mock cluster) for the demo and tests" ;;
  *) echo "man-page.sh: no summary for $name" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# roff PART (stdin: one command's --help): that help as roff.  The text is
# what dr_config_print_help prints: usage lines, a description, a blank
# line, "Settings (flag, environment variable, default):", then per setting
# a "  --flag TYPE" line and its help lines indented six spaces (the last
# "env DROVER_..., default ...").  Description lines indented two spaces
# (tables, the list of verbs) keep their layout.  PART: "usage" (the usage
# lines), "description" or "settings".
roff() {
  awk -v part="$1" '
    function esc(s) {
      gsub(/\\/, "\\e", s)
      gsub(/-/, "\\-", s)
      if (s ~ /^[.\047]/) s = "\\&" s
      return s
    }
    BEGIN { state = "usage" }
    state == "usage" {
      if ($0 ~ /^usage: / || ($0 ~ /^ +[^ ]/ && seen)) {
        seen = 1
        line = $0; sub(/^usage: /, "", line); sub(/^ +/, "", line)
        if (part == "usage") print esc(line) "\n.br"
        next
      }
      state = "description"
    }
    /^Settings \(flag, environment variable, default\):$/ { if (pre) print ".fi"; pre = 0; state = "settings"; next }
    state != part { next }
    state == "description" {
      if ($0 == "") { if (pre) print ".fi"; pre = 0; if (printed) print ".PP"; printed = 0; next }
      printed = 1
      if ($0 ~ /^  /) { if (!pre) print ".nf"; pre = 1; print esc($0); next }
      if (pre) print ".fi"; pre = 0
      print esc($0)
      next
    }
    state == "settings" {
      if ($0 ~ /^  --/) {
        line = substr($0, 3); flag = line; sub(/ .*/, "", flag)
        print ".TP\n\\fB" esc(flag) "\\fR" esc(substr(line, length(flag) + 1))
        next
      }
      line = $0; sub(/^ +/, "", line)
      if (line ~ /^env DROVER_/) print ".br"
      if (line != "") print esc(line)
    }
    END { if (pre) print ".fi" }'
}

"$bin" --help >"$tmp/help"
# The verbs a program lists under "commands:" or "verbs:", two or more spaces before each summary.
verbs=$(awk -F'  +' '/^(commands|verbs):$/ {on = 1; next} on && /^  [a-z]/ {print $2}' "$tmp/help")
{
  echo "[SYNOPSIS]"
  roff usage <"$tmp/help"
  echo "[=DESCRIPTION]"
  roff description <"$tmp/help"
  if [ -n "$(roff settings <"$tmp/help")" ]; then
    echo "[SETTINGS]"
    echo "Each setting is a flag, an environment variable and a line of the settings file (\\fB\\-\\-config\\fR)."
    roff settings <"$tmp/help"
  fi
  if [ -n "$verbs" ]; then
    echo "[COMMANDS]"
    echo "Each command takes its own settings: flags, environment variables or lines of the settings file (\\fB\\-\\-config\\fR)."
    while read -r verb; do
      # shellcheck disable=SC2086 # a verb is one or two words
      "$bin" $verb --help >"$tmp/verb"
      echo ".SS \"$verb\""
      echo ".nf"
      roff usage <"$tmp/verb" | grep -v '^\.br$'
      echo ".fi"
      echo ".PP"
      roff description <"$tmp/verb"
      echo ".PP"
      echo "Settings:"
      roff settings <"$tmp/verb"
    done <<<"$verbs"
  fi
  cat <<'EOF'
[FILES]
.TP
.I /etc/drover/*.conf
Settings files: one "name = value" line per setting, named by \fB\-\-config\fR or \fBDROVER_CONFIG\fR.
The systemd units drover\-worker@.service, drover\-aggregator.service and drover\-control\-plane.service
read worker\-INSTANCE.conf, aggregator.conf and control\-plane.conf.
A flag beats the environment, which beats the file.
[SEE ALSO]
.BR drover\-producer (1),
.BR drover\-worker (1),
.BR drover\-aggregator (1),
.BR drover\-broker (1),
.BR systemd.service (5).
The documentation, install.md first, is in /usr/share/doc/drover (docs/ in the sources).
EOF
} >"$tmp/include"

help2man --no-info --no-discard-stderr --section 1 --name "$summary" --include "$tmp/include" \
  --output "$tmp/$name.1" "$bin"
gzip -9 -n -c "$tmp/$name.1" >"$out.tmp"
mv "$out.tmp" "$out"
