"""The machine the daemon runs on: host facts, Linux bridges and taps for guests'
NICs, and the storage repositories' image files. It may import the API's pure
declarations (errors, value checks) and util, nothing above them.
"""
