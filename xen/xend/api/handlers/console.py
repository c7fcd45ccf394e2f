"""console (Xen-API 1.0): a running guest's consoles, made and removed by the domain
owner (state/domains.py); a client reads them and sets other_config.

``location`` is worked out when it is read, from the listeners the configuration
has now (a reload may change them): the TLS listener when there is one, else the
TCP listener, else a path on the Unix socket.
"""

from ...util.addresses import reachable_authority
from .base import ClassHandler


def console_url(config, ref):
    """The URL of console ``ref`` on the daemon's preferred listener (``config``: the
    daemon's configuration): https on the TLS listener, else http on the TCP one, else
    the path alone, for the Unix socket."""
    path = "/console?ref=" + ref
    for key, scheme in (("tls_listen", "https"), ("listen", "http")):
        if config.get(key, "none") not in ("", "none"):
            return "%s://%s%s" % (scheme, reachable_authority(config[key]), path)
    return path


class ConsoleHandler(ClassHandler):
    cls_name = "console"
    computed = {"location": "_location"}

    def _location(self, ref, rec):
        return console_url(self.app.config, ref)
