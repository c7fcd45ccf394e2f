"""xm: the classic Xen command line, a client of the Xen Management API only.

It talks XML-RPC to xend and never imports the daemon's internals; from
xen.xend it uses only pure modules of the API: the datamodel and the lifecycle
table, which are data, and the type and to_XML text rules they are made of.
"""
