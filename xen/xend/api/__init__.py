"""The Xen Management API: datamodel, wire codec, dispatch, sessions and class handlers."""
