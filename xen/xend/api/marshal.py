"""A fast XML-RPC methodResponse writer for the values dispatch produces.

Replies are made only of str, bool, int, float, dict, list/tuple and
xmlrpc.client.DateTime (dispatch has already put 64-bit ints in strings), so a
small writer with one branch per type does what xmlrpc.client.dumps does, in
a fraction of the time: get_all_records of 10,000 VMs is millions of values.
The output is the same XML-RPC; the test-suite decodes it with xmlrpc.client.
"""

import xmlrpc.client

_HEAD = "<?xml version='1.0'?>\n<methodResponse><params><param>"
_TAIL = "</param></params></methodResponse>\n"
_INT_MIN, _INT_MAX = -2 ** 31, 2 ** 31 - 1


def _escape(s):
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    return s


def _value(v, out):
    """Append the <value> of ``v`` to ``out``."""
    t = type(v)
    if t is str:
        # A <value> without a type is a string (XML-RPC spec); it is the commonest value,
        # and the shorter form halves the elements a client must parse.
        out.append("<value>")
        out.append(_escape(v))
        out.append("</value>")
    elif t is dict:
        out.append("<value><struct>")
        for k, x in v.items():
            out.append("<member><name>")
            out.append(_escape(k))
            out.append("</name>")
            _value(x, out)
            out.append("</member>")
        out.append("</struct></value>")
    elif t is list or t is tuple:
        out.append("<value><array><data>")
        for x in v:
            _value(x, out)
        out.append("</data></array></value>")
    elif t is bool:
        out.append("<value><boolean>1</boolean></value>" if v
                   else "<value><boolean>0</boolean></value>")
    elif t is int:
        if not _INT_MIN <= v <= _INT_MAX:
            raise OverflowError("int exceeds XML-RPC limits")
        out.append("<value><int>%d</int></value>" % v)
    elif t is float:
        out.append("<value><double>%s</double></value>" % repr(v))
    elif t is xmlrpc.client.DateTime:
        out.append("<value><dateTime.iso8601>%s</dateTime.iso8601></value>" % v.value)
    else:
        raise TypeError("cannot marshal %s" % t.__name__)


def response(value):
    """A methodResponse holding ``value``, as UTF-8 bytes."""
    out = [_HEAD]
    _value(value, out)
    out.append(_TAIL)
    return "".join(out).encode("utf-8")
