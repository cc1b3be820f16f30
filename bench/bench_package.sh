# bench_package.sh - the package the benchmarks install: a 1 MiB payload
# that install.sh copies into the target root.  Source it with $WORK set;
# it leaves $WORK/src (the files), $WORK/repo/bench.zip and
# $WORK/repo/manifest.json.
mkdir -p "$WORK/src" "$WORK/repo"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/src/payload.bin"
cat >"$WORK/src/install.sh" <<'SH'
#!/bin/sh
mkdir -p "$DROVER_TARGET_ROOT/opt/bench"
cp payload.bin "$DROVER_TARGET_ROOT/opt/bench/payload.bin"
SH
printf '#!/bin/sh\nrm -rf "$DROVER_TARGET_ROOT/opt/bench"\n' >"$WORK/src/uninstall.sh"
(cd "$WORK/src" && zip -q -X "$WORK/repo/bench.zip" install.sh uninstall.sh payload.bin)
sha=$(sha256sum "$WORK/repo/bench.zip" | cut -d' ' -f1)
cat >"$WORK/repo/manifest.json" <<JSON
{"schemaVersion": "2.0", "version": "1.0",
 "packages": {"_any": {"_any": {"_any": {"file": "bench.zip"}}}},
 "files": {"bench.zip": {"checksums": {"sha256": "$sha"}}}}
JSON
