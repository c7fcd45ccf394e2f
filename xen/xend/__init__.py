"""xend, the Xen Management API daemon, in layers, each a subpackage (lowest first):
util, the API's declarations (in api/), host, backend, state, api, transport,
daemon. A module imports only from its own layer and the layers below it that
tests/unit/test_layers.py allows; docs/architecture.md maps every module and
draws the path of a call through them.
"""
