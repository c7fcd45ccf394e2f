"""The daemon process: command line, configuration, building and serving the daemon,
detaching, reload, locks and log (cli.py says which module holds what)."""
