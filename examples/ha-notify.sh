#!/bin/sh
# Example notify script for the ha library: called as
#   ha-notify.sh <new-state> <old-state> <server-name> <partner-state> <scopes> <paused>
# Replace the echo with what your service needs (move a virtual IP, start or stop a daemon).
case "$1" in
  hot-standby|load-balancing|partner-down|partner-in-maintenance)
    echo "$(date -u +%FT%TZ) $3: now $1 (was $2), serving scopes '$5'" ;;
  *)
    echo "$(date -u +%FT%TZ) $3: now $1 (was $2), not serving" ;;
esac
