"""The daemon process, the top layer: command line, configuration, building what
the daemon owns (``app.Xend``), serving it in this process or detached, reload,
locks and the log (cli.py says which module holds what). It may import every
other layer.
"""
