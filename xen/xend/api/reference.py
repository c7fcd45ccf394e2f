"""The API reference (docs/api-reference.md) and the DTD (docs/xen-api.dtd), generated.

``python -m xen.xend.api.reference docs/`` rewrites both from the datamodel and
the method table; a test checks that the committed copies are current.
"""

import os
import sys

from . import datamodel, lifecycle, xmlrepr


def _methods_table(rev="0.2"):
    """Revision ``rev``'s method table without a running daemon: handlers stubbed to
    their names."""
    from . import methods

    class Stub:
        def __getattr__(self, name):
            def impl(*args):
                raise NotImplementedError(name)
            impl.__name__ = name
            return impl
    return methods.build({c: Stub() for c in datamodel.CLASSES}, rev)


def _sig(m):
    # An optional parameter in brackets: "[string version]".
    params = ", ".join(("[%s %s]" if p.optional else "%s %s") % (p.type.spec_name(), p.name)
                       for p in m.params)
    if m.session:
        params = "session_id s" + (", " + params if params else "")
    result = m.result.spec_name() if m.result is not None else "void"
    return "%s %s(%s)" % (result, m.name, params)


def _revision(item):
    """Which revisions declare a class, field or message, as the reference shows it."""
    if item.extension:
        return "ext"
    return item.since + (" only" if getattr(item, "rev", None) else "")


def _rpcs(tables, cls):
    """The signatures of ``cls``'s RPCs in every revision: one line where the revisions
    agree, one per revision (marked) where they do not."""
    lines = []
    for name in sorted({m for t in tables.values() for m in t if t[m].cls == cls}):
        sigs = {rev: _sig(t[name]) for rev, t in tables.items() if name in t}
        if len(set(sigs.values())) == 1:
            lines.append(next(iter(sigs.values())))
        else:
            lines += ["%s    (%s sessions)" % (sig, rev) for rev, sig in sigs.items()]
    return lines


def markdown():
    """The whole reference as Markdown."""
    tables = {rev: _methods_table(rev) for rev in datamodel.REVISIONS}
    out = ["# Xen Management API %s and Xen-API 1.0: reference" % datamodel.API_VERSION, "",
           "Generated from `xen/xend/api/datamodel.py` by `python -m xen.xend.api.reference`;"
           " do not edit by hand. The column *rev* says which revision declares a name: "
           "`0.2` (the draft, kept by 1.0 unless marked), `1.0` (added by Xen-API 1.0), "
           "`... only` (the revisions disagree; a session sees its own revision's, "
           "docs/api.md \"Two revisions\"), `ext` (in neither: the later Xen-API's or this "
           "daemon's). A field *same as* another is one stored value with two names.", ""]
    for cls in datamodel.CLASSES.values():
        out += ["## Class: %s (%s)" % (cls.name, _revision(cls)), "", cls.desc, ""]
        if cls.owner:
            out += ["One object per %s, which it belongs to; never made or deleted by "
                    "clients." % cls.owner, ""]
        if cls.fields:
            out += ["| rev | qualifier | field (wire name) | type | description |",
                    "|---|---|---|---|---|"]
            for f in cls.fields:
                name = f.name if f.name == f.wire else "%s (`%s`)" % (f.name, f.wire)
                extra = (" Required in create." if f.required else "") + \
                    (" A file on the host: root's any, other users' only under their roots "
                     "(path_roots, or STATE_DIR/boot)." if f.host_path else "") + \
                    (" Setting it %s." % f.on_set if f.on_set else "") + \
                    (" *Same as* %s." % ", ".join("%s.%s" % (cls.owner or cls.name, w)
                                                  for w in f.same_as.sources)
                     if f.same_as else "")
                out.append("| %s | %s | %s | %s | %s.%s |" % (
                    _revision(f), f.qual, name, f.type.spec_name(), f.desc.rstrip("."),
                    extra))
            out.append("")
        out += ["RPCs:", "", "```"] + _rpcs(tables, cls.name) + ["```", ""]
    out += ["## Enumerations", ""]
    for e in datamodel.ENUMS.values():
        out += ["### %s" % e.name, ""] + ["- `%s`: %s" % kv for kv in e.values.items()]
        if e.spellings:
            out.append("- also accepted: " + ", ".join("`%s` for `%s`" % kv
                                                       for kv in e.spellings.items()))
        out.append("")
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
