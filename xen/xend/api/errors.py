"""API errors: the one exception type handlers raise to produce a Failure reply.

A Failure on the wire is ``{Status: "Failure", ErrorDescription: [code, p1, ...]}``
(spec §1.3.1). Codes and their parameter lists are declared in the datamodel;
raising an undeclared code, or one with the wrong number of parameters, is a
programming error caught by the test-suite, never something a client sees.
"""

from . import datamodel


class ApiError(Exception):
    """Raise to answer the current call with a Failure."""

    def __init__(self, code, *params):
        declared = datamodel.ERRORS.get(code)
        if declared is None or len(declared.params) != len(params):
            # An undeclared code is a bug here, not the client's fault.
            params = ("%s%r is not a declared error" % (code, params),)
            code = "INTERNAL_ERROR"
        super().__init__(code, *params)
        self.code = code
        self.params = [str(p) for p in params]

    @property
    def description(self):
        """The ErrorDescription array: the code, then its parameters as strings."""
        return [self.code] + self.params

    def __str__(self):
        return " ".join(self.description)

    @classmethod
    def of(cls, error):
        """``error`` (an ApiError, or a backend's BackendError, which carries the same
        code and parameters) as the ApiError a Failure reply is made from."""
        return error if isinstance(error, cls) else cls(error.code, *error.params)

