# scimd .rpm %preun: on erase (not upgrade) stop and disable the service. The database in
# /var/lib/scimd and the scimd user are kept, as RPM packages do with data.
if [ "$1" -eq 0 ]; then
    systemctl disable --now scimd.service >/dev/null 2>&1 || true
fi
exit 0
