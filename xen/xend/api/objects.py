"""Which objects exist, for the checks of refs in calls and records.

A ref names an object of the store, or of a class with an owner (datamodel
``Class.owner``: VM_metrics, ...), whose objects are never stored and exist
while their owner does (handlers/derived.py).
"""


class Objects:
    """``is_a(ref, cls)`` over the store and the derived classes' handlers."""

    def __init__(self, store, handlers):
        self.store = store
        self._derived = {name: h for name, h in handlers.items() if h.cls.owner}

    def is_a(self, ref, cls):
        """Whether ``ref`` names an existing object of class ``cls``."""
        derived = self._derived.get(cls)
        if derived is not None:
            return derived.exists(ref)
        return self.store.class_of(ref) == cls
