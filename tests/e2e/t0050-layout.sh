#!/usr/bin/env bash
# The layout docs/architecture.md draws holds in the build: each program
# links only the libraries it uses (the broker no libcurl, libzip or jansson;
# the aggregator no libcurl or libzip), both on its link line and in what
# the dynamic loader sees, and no library of common/ includes a header of a
# library above it.
. "$(dirname "$0")/lib.sh"
SRC="${DROVER_SOURCE_DIR:?}"

# What the linker was given (the link line) and what the loader loads (ldd):
# --as-needed drops an unused library from the second, so both are checked.
refuse_libraries() {
  local program=$1 pattern=$2
  local bin="$DROVER_BUILD_DIR/$program" link="$DROVER_BUILD_DIR/CMakeFiles/$program.dir/link.txt"
  [ -x "$bin" ] && [ -f "$link" ] || fail "$program is not built (no $bin or $link)"
  if grep -oE "lib($pattern)[^ /]*\.(so|a)" "$link"; then
    fail "$program is linked with a library it must not use ($pattern): $(cat "$link")"
  fi
  if ldd "$bin" | grep -E "lib($pattern)[.-]"; then
    fail "$program loads a library it must not use ($pattern)"
  fi
}
test_expect_success 'drover-broker links none of libcurl, libzip, jansson' '
  refuse_libraries drover-broker "curl|zip|jansson"
'
test_expect_success 'drover-aggregator links neither libcurl nor libzip' '
  refuse_libraries drover-aggregator "curl|zip"
'

# Who may include whom, as in docs/architecture.md: a library's own headers,
# and those of the libraries below it.
allowed_for() {
  case $1 in
    base) echo "base" ;;
    bus) echo "bus base" ;;
    packages) echo "packages base" ;;
    http) echo "http base" ;;
    status) echo "status bus base" ;;
    *) fail "common/$1 is a library docs/architecture.md does not place" ;;
  esac
}
test_expect_success 'no library of common/ includes a header of a library above it' '
  for dir in "$SRC"/common/*/; do
    lib=$(basename "$dir")
    allowed=$(allowed_for "$lib")
    for file in "$dir"*.[ch]; do
      for header in $(sed -n "s/^#include \"\([^\"]*\)\".*/\1/p" "$file"); do
        [ "$header" = drover.pb-c.h ] && continue
        found=
        for other in "$SRC"/common/*/; do
          [ -f "$other$header" ] && found=$(basename "$other")
        done
        [ -n "$found" ] || fail "${file#"$SRC"/} includes $header, which no library of common/ has"
        grep -qw "$found" <<<"$allowed" || fail "${file#"$SRC"/} (common/$lib) includes $header of common/$found"
      done
    done
  done
'

test_expect_success 'nothing in producer/domain or producer/daemon includes a command header' '
  for file in "$SRC"/producer/domain/*.[ch] "$SRC"/producer/daemon/*.[ch]; do
    for header in $(sed -n "s/^#include \"\([^\"]*\)\".*/\1/p" "$file"); do
      [ ! -f "$SRC/producer/cli/$header" ] || fail "${file#"$SRC"/} includes producer/cli/$header"
      case $file in
        */domain/*) [ ! -f "$SRC/producer/daemon/$header" ] || fail "${file#"$SRC"/} includes producer/daemon/$header" ;;
      esac
    done
  done
'

test_done
