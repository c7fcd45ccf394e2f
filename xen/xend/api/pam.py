"""Password checks through PAM (config ``auth = "pam"``), with ctypes and libpam.

The conversation answers every password prompt with the given password and
nothing else. The service is "xend" when /etc/pam.d/xend exists, else "login".
"""

import ctypes
import ctypes.util
import os

PAM_PROMPT_ECHO_OFF = 1
PAM_PROMPT_ECHO_ON = 2
PAM_SUCCESS = 0
PAM_BUF_ERR = 5


class _Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class _Response(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


_CONV_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int,
                              ctypes.POINTER(ctypes.POINTER(_Message)),
                              ctypes.POINTER(ctypes.POINTER(_Response)), ctypes.c_void_p)


class _Conv(ctypes.Structure):
    _fields_ = [("conv", _CONV_FUNC), ("appdata_ptr", ctypes.c_void_p)]


_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_libc.calloc.restype = ctypes.c_void_p
_libc.strdup.restype = ctypes.c_void_p
_libc.strdup.argtypes = [ctypes.c_char_p]
_pam = None


def _lib():
    global _pam
    if _pam is None:
        _pam = ctypes.CDLL(ctypes.util.find_library("pam") or "libpam.so.0")
        _pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_Conv),
                                   ctypes.POINTER(ctypes.c_void_p)]
        _pam.pam_authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _pam.pam_acct_mgmt.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _pam.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return _pam


def authenticate(user, password, service=None):
    """True if PAM accepts ``password`` for ``user`` (and the account is usable)."""
    if not user or "\x00" in user or "\x00" in password:
        return False
    service = service or ("xend" if os.path.exists("/etc/pam.d/xend") else "login")
    secret = password.encode("utf-8")

    @_CONV_FUNC
    def conversation(n, messages, responses, _data):
        # PAM frees the responses: they must come from malloc.
        arr = _libc.calloc(n, ctypes.sizeof(_Response))
        if not arr:
            return PAM_BUF_ERR
        replies = ctypes.cast(arr, ctypes.POINTER(_Response))
        for i in range(n):
            if messages[i].contents.msg_style in (PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON):
                replies[i].resp = _libc.strdup(secret)
        responses[0] = replies
        return PAM_SUCCESS

    lib = _lib()
    handle = ctypes.c_void_p()
    conv = _Conv(conversation, None)
    rc = lib.pam_start(service.encode(), user.encode("utf-8"), ctypes.byref(conv),
                       ctypes.byref(handle))
    if rc != PAM_SUCCESS:
        return False
    try:
        rc = lib.pam_authenticate(handle, 0)
        if rc == PAM_SUCCESS:
            rc = lib.pam_acct_mgmt(handle, 0)
        return rc == PAM_SUCCESS
    finally:
        lib.pam_end(handle, rc)
