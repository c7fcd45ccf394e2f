"""The lowest layer: helpers that know nothing of the API or the daemon (progress
and cancellation of the current operation, file-system helpers). It imports no
other part of xend.
"""
