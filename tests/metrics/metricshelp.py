"""Helpers of the metrics tier: the spec's field names and GET /metrics (what the other
tiers use too, from VMs to waiting, is in tests/harness.py).

Everything a test learns it learns through the official XenAPI SDK, GET /metrics, or from
the host the way an administrator would (/proc, the guest's serial console log). The only
daemon module imported is hostinfo, whose CPU_FEATURES table is the documented mapping of
/proc/cpuinfo flags to the API's cpu_feature values.
"""

import base64
import http.client

from harness import UnixHTTPConnection

# The tier's daemons sample every 0.5 s.
SAMPLER_CONFIG = "sampler_interval = 0.5\n"


def spec_or_wire(name):
    """A field name as errors may give it: its wire name (memory_dynamic_max) or its spec
    name (memory/dynamic_max) -> the wire name."""
    return name.replace("/", "_")


# -- GET /metrics --------------------------------------------------------------------------

def _get(conn, path, headers):
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8")
    finally:
        conn.close()


def scrape_unix(daemon, path="/metrics"):
    """(status, headers, body) of GET ``path`` on the daemon's Unix socket."""
    return _get(UnixHTTPConnection(daemon.socket), path, {})


def scrape_tcp(daemon, user=None, password=None, authorization=None, path="/metrics"):
    """(status, headers, body) of GET ``path`` over TCP, with HTTP Basic if ``user``."""
    headers = {}
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        headers["Authorization"] = "Basic " + token
    if authorization is not None:
        headers["Authorization"] = authorization
    return _get(http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10), path,
                headers)


def parse(text):
    """{family name: Metric} by prometheus_client's text-format parser (which raises on
    anything that is not valid exposition text)."""
    from prometheus_client.parser import text_string_to_metric_families
    return {fam.name: fam for fam in text_string_to_metric_families(text)}


def samples(families, name):
    """[(labels, value)] of the samples called ``name`` (a sample name, e.g. a counter's
    ``..._total``) across the parsed families."""
    return [(s.labels, s.value) for fam in families.values() for s in fam.samples
            if s.name == name]


def metrics_unix(daemon):
    status, _, body = scrape_unix(daemon)
    assert status == 200, (status, body)
    return parse(body)
