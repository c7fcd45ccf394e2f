"""The owners of the daemon's state: the object store (memory and SQLite), the
domain owner (every change of a VM's power state), the event log and the
sampler of live figures. It may import the API's pure declarations, backend,
host and util; it reaches the class handlers only through the daemon's
``Xend`` object, never by import.
"""
