# scimd .rpm %post: on first install enable the unit but do not start it (the admin edits
# /etc/scimd/scimd.toml first, then runs `systemctl start scimd`); on upgrade restart it if it
# was running, so the new binary serves.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" -eq 1 ]; then
    systemctl enable scimd.service >/dev/null 2>&1 || true
else
    systemctl try-restart scimd.service >/dev/null 2>&1 || true
fi
exit 0
