"""The API reference (docs/api-reference.md) and the DTD (docs/xen-api.dtd), generated.

``python -m xen.xend.api.reference docs/`` rewrites both from the datamodel and
the method table; a test checks that the committed copies are current.
"""

import os
import sys

from . import datamodel, lifecycle, xmlrepr


def _methods_table():
    """The method table without a running daemon: handlers stubbed to their names."""
    from . import methods

    class Stub:
        def __getattr__(self, name):
            def impl(*args):
                raise NotImplementedError(name)
            impl.__name__ = name
            return impl
    return methods.build({c: Stub() for c in datamodel.CLASSES})


def _sig(m):
    # An optional parameter in brackets: "[string version]".
    params = ", ".join(("[%s %s]" if p.optional else "%s %s") % (p.type.spec_name(), p.name)
                       for p in m.params)
    if m.session:
        params = "session_id s" + (", " + params if params else "")
    result = m.result.spec_name() if m.result is not None else "void"
    return "%s %s(%s)" % (result, m.name, params)


def markdown():
    """The whole reference as Markdown."""
    table = _methods_table()
    out = ["# Xen Management API %s: reference" % datamodel.API_VERSION, "",
           "Generated from `xen/xend/api/datamodel.py` by `python -m xen.xend.api.reference`;"
           " do not edit by hand. Fields and messages marked *extension* go beyond the draft.",
           ""]
    for cls in datamodel.CLASSES.values():
        out += ["## Class: %s%s" % (cls.name, " (extension)" if cls.extension else ""), "",
                cls.desc, ""]
        if cls.fields:
            out += ["| qualifier | field (wire name) | type | description |",
                    "|---|---|---|---|"]
            for f in cls.fields:
                name = f.name if f.name == f.wire else "%s (`%s`)" % (f.name, f.wire)
                extra = (" Required in create." if f.required else "") + \
                    (" A file on the host: root's any, other users' only under their roots "
                     "(path_roots, or STATE_DIR/boot)." if f.host_path else "") + \
                    (" Setting it %s." % f.on_set if f.on_set else "") + \
                    (" *extension*" if f.extension else "")
                out.append("| %s | %s | %s | %s.%s |" % (f.qual, name, f.type.spec_name(),
                                                        f.desc.rstrip("."), extra))
            out.append("")
        msgs = sorted(m for m in table if table[m].cls == cls.name)
        out += ["RPCs:", "", "```"] + [_sig(table[m]) for m in msgs] + ["```", ""]
    out += ["## Enumerations", ""]
    for e in datamodel.ENUMS.values():
        out += ["### %s" % e.name, ""] + ["- `%s`: %s" % kv for kv in e.values.items()] + [""]
    out += ["## Bound fields", "", "| Ref side | Set side | relationship | deleting the Set "
            "side's object |", "|---|---|---|---|"]
    for b in datamodel.BINDINGS:
        out.append("| %s.%s | %s.%s | %s | %s |" % (b.ref_class, b.ref_field, b.set_class,
                                                   b.set_field, b.relationship, {
                                                       "refuse": "refused (OBJECT_IN_USE)",
                                                       "cascade": "deletes the holders",
                                                       "clear": "clears the Ref"}[b.on_delete]))
    out += ["", "## Errors", "", "| code | parameters | meaning |", "|---|---|---|"]
    for e in datamodel.ERRORS.values():
        out.append("| %s | %s | %s |" % (e.code, ", ".join(e.params), e.doc))
    out += ["", "## VM lifecycle", "", "```"] + lifecycle.describe() + ["```", ""]
    return "\n".join(out)


def write(directory):
    """Write api-reference.md and xen-api.dtd into ``directory``."""
    with open(os.path.join(directory, "api-reference.md"), "w") as f:
        f.write(markdown())
    with open(os.path.join(directory, "xen-api.dtd"), "w") as f:
        f.write(xmlrepr.dtd_text())


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else "docs")
