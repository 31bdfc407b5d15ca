# scimd .rpm %pre: create the `scimd` system user and group the unit runs as.
getent group scimd >/dev/null || groupadd --system scimd
getent passwd scimd >/dev/null || \
    useradd --system --gid scimd --home-dir /var/lib/scimd --no-create-home \
        --shell /sbin/nologin --comment "scimd SCIM server" scimd
exit 0
