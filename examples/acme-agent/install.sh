#!/bin/sh
# Install the acme agent into the target: binary, config, and a marker of the platform build.
set -e
dest="$DROVER_TARGET_ROOT/opt/acme-agent"
mkdir -p "$dest/bin" "$DROVER_TARGET_ROOT/etc/acme-agent"
cp bin/acme-agent "$dest/bin/acme-agent"
chmod 0755 "$dest/bin/acme-agent"
echo "build=$(cat build.txt)" > "$DROVER_TARGET_ROOT/etc/acme-agent/agent.conf"
echo "region=$DROVER_REGION" >> "$DROVER_TARGET_ROOT/etc/acme-agent/agent.conf"
echo "log_level=${LOG_LEVEL:-info}" >> "$DROVER_TARGET_ROOT/etc/acme-agent/agent.conf"
echo "acme-agent $DROVER_VERSION installed on $DROVER_TARGET_ID ($DROVER_PLATFORM_NAME $DROVER_PLATFORM_VERSION)"
