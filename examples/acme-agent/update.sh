#!/bin/sh
# In-place update: replace the binary, keep the configuration.
set -e
cp bin/acme-agent "$DROVER_TARGET_ROOT/opt/acme-agent/bin/acme-agent"
sed -i "s/^build=.*/build=$(cat build.txt)/" "$DROVER_TARGET_ROOT/etc/acme-agent/agent.conf"
echo "acme-agent updated from $DROVER_PREVIOUS_VERSION to $DROVER_VERSION on $DROVER_TARGET_ID"
