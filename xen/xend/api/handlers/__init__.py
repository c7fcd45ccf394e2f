"""The class handlers: base.ClassHandler gives every datamodel class its
accessors, constructor, delete and records; a module here subclasses it for the
classes with behaviour of their own (daemon/app.py lists them in HANDLERS).
Part of the api layer: handlers reach the store, the domain owner, the backend
and one another through the daemon's ``Xend`` object (``self.app``).
"""
