#!/bin/sh
# Remove everything install.sh put on the target.
rm -rf "$DROVER_TARGET_ROOT/opt/acme-agent" "$DROVER_TARGET_ROOT/etc/acme-agent"
echo "acme-agent $DROVER_VERSION removed from $DROVER_TARGET_ID"
