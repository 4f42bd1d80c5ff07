"""Units live in `cdshooks.units`, below both the knowledge and the context layers (issue 16).

Kept so `from cdshooks.context.units import convert` keeps working for code that reads it as part
of the context; new code imports `cdshooks.units`.
"""

from ..units import *  # noqa: F401,F403
from ..units import UnitError, convert, dimension, parse  # noqa: F401  (explicit re-exports for type checkers)
