"""The Xen Management API, two layers in one package.

Its pure declarations (datamodel, types, errors, lifecycle, values, xmltime,
xmltext) are the model layer: data and value rules, importing only util, and
read by every layer but the backends (xm included). The rest (codec, marshal,
dispatch, methods, sessions, pam, limits, tasks, xmlrepr, reference and the
class handlers in handlers/) is the api layer, which may import the model,
state, backend, host and util, and never transport or daemon.
"""
