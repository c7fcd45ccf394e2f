"""Bytes on sockets: the Unix, TCP and TLS listeners, the HTTP/1.1 reader and
writer, the TLS context and ``GET /metrics``. It may import api, the API's pure
declarations, state, host and util, never a backend: what /metrics shows of
guests it reads from the store and the sampler, through the daemon's ``Xend``.
"""
