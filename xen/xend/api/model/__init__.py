"""The datamodel's declarations by concern (datamodel.py gathers them): the vocabulary
(schema.py) and the classes of VMs, hosts, networks and storage."""
