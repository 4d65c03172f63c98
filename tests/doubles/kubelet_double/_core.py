"""The shared doubles core (tests/doubles/doubles_core) wherever this package runs: as
``tests.doubles.doubles_core`` in the checkout's tests, as the top-level ``doubles_core`` beside
this package in a release file or when the double runs as a script. Its names are the core's
``__all__``."""

from __future__ import annotations

try:
    from ..doubles_core import *  # noqa: F403
    from ..doubles_core import __all__ as __all__
except ImportError:  # a top-level package here: the core is a top-level package beside it
    from doubles_core import *  # type: ignore[no-redef,import-not-found,unused-ignore]  # noqa: F403
    from doubles_core import __all__ as __all__  # type: ignore[import-not-found,no-redef,unused-ignore]
