"""The suite's own exception types.

Every bad input is rejected by ``backprop`` before any framework sees it, with one of these. Each subclasses
``ValueError`` or ``TypeError`` so callers can catch the built-in kinds too.
"""


class BackpropError(Exception):
    """Base class of every error the suite raises on purpose."""


class SpecError(BackpropError, ValueError):
    """An invalid network spec: the message names the field, the allowed values and what was given."""


class InputError(BackpropError, ValueError):
    """A batch, a parameter list or a hyperparameter with the wrong shape or value."""


class InputTypeError(BackpropError, TypeError):
    """A batch or parameter list of the wrong kind: strings, objects, ragged lists."""


class BackendError(BackpropError, ValueError):
    """An unknown backend name, or a known backend whose framework is not installed."""


class DivergenceError(BackpropError, ArithmeticError):
    """Training produced a non-finite loss; parameters are left at their last finite values."""
