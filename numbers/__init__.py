"""The `numbers` app: phone numbers held at the providers.

The design names this app `numbers`, which shadows the standard library module of the
same name once the project root is first on `sys.path` (as it is for `manage.py`,
`python -m ...`, and every venv entry point through the `switchboard.pth` that
`make` installs). `decimal`, `fractions` and others import the standard `numbers` for its
abstract base classes, so this package loads the standard module's source and re-exports
its ABCs: both meanings of `import numbers` then work in one process.
"""

import importlib.util as _util
import os as _os
import sysconfig as _sysconfig

_spec = _util.spec_from_file_location(
    "_stdlib_numbers", _os.path.join(_sysconfig.get_paths()["stdlib"], "numbers.py")
)
_stdlib = _util.module_from_spec(_spec)
_spec.loader.exec_module(_stdlib)

Number = _stdlib.Number
Complex = _stdlib.Complex
Real = _stdlib.Real
Rational = _stdlib.Rational
Integral = _stdlib.Integral

__all__ = ["Complex", "Integral", "Number", "Rational", "Real"]
