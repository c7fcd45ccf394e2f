"""Turning wire values into checked Python values, with the API's errors.

Used by dispatch for call parameters and by the constructor for record
fields, so a value is judged the same way wherever it arrives.
"""

from .errors import ApiError
from .types import NULL_REF, Ref, Set, TypeMismatch

MAX_STRING = 1 << 20   # longest string accepted in any value, in characters


def check_value(t, value, name, store, allow_null=True):
    """Convert ``value`` to type ``t``; raise the API error naming ``name`` if it does not fit.

    Refs must name an existing object of the right class (HANDLE_INVALID
    [class, ref]); a null ref is refused unless ``allow_null``.
    """
    try:
        out = t.from_wire(value)
    except TypeMismatch as e:
        if e.bad_value:
            raise ApiError("INVALID_VALUE", name, _show(value)) from None
        raise ApiError("FIELD_TYPE_ERROR", name) from None
    _check_strings(out, name)
    if isinstance(t, Ref):
        _check_ref(t, out, store, allow_null)
    elif isinstance(t, Set) and isinstance(t.item, Ref):
        for r in out:
            _check_ref(t.item, r, store, allow_null=False)
    return out


def _check_ref(t, ref, store, allow_null):
    if ref == NULL_REF:
        if not allow_null:
            raise ApiError("HANDLE_INVALID", t.cls, ref)
        return
    if store.class_of(ref) != t.cls:
        raise ApiError("HANDLE_INVALID", t.cls, ref)


def _check_strings(v, name):
    """Refuse strings no field may hold: over-long ones and ones with NUL."""
    items = v.items() if isinstance(v, dict) else v if isinstance(v, list) else [v]
    for x in items:
        for s in (x if isinstance(x, tuple) else (x,)):
            if isinstance(s, str) and (len(s) > MAX_STRING or "\x00" in s):
                raise ApiError("INVALID_VALUE", name, _show(s))


def _show(value):
    """A value as an error parameter: a string, cut short."""
    s = str(value)
    return s if len(s) <= 80 else s[:77] + "..."
