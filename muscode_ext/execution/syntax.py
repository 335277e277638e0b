"""Syntax errors of interpreted languages reported as ``compile_error``.

Python: the run command is ``python3 -c LAUNCHER main.py args...``. The launcher,
run by the same interpreter that then runs the program (no second launch), compiles
the main file. When it does not parse, it prints the report ``python3 main.py``
prints (the ``File ..., line N`` block and the ``SyntaxError:`` line) and exits with
:data:`PYTHON_SYNTAX_STATUS`; the host (``programs.python_syntax_error``) then judges
the run a ``compile_error`` with that report as its ``compile_output``. Otherwise it
runs the code as ``__main__`` the way ``python3 main.py`` does: ``sys.argv``,
``sys.path[0]``, ``__file__`` and tracebacks (without a frame of the launcher) are
those of a plain run.

Other languages (PHP) check the main file with a separate command before the first
run (``Language.check``, e.g. ``php -l``): its failure is the compile step's.
"""

from __future__ import annotations

#: The exit status of a Python run whose main file did not parse (EX_DATAERR).
PYTHON_SYNTAX_STATUS = 65

# Kept small: it is passed as an argument. It runs with the program's own interpreter,
# so it uses only what every Python 3 has. No braces: a command template's parts are
# filled with str.format.
PYTHON_LAUNCHER = f"""\
def _muscode_main():
    import os, sys
    del sys.argv[0]
    path = os.path.abspath(sys.argv[0])
    sys.path[0] = os.path.dirname(path)
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec", dont_inherit=True)
    except OSError as e:
        sys.stderr.write("python3: can't open file %r: %s\\n" % (path, e))
        sys.exit(2)
    except (SyntaxError, ValueError) as e:
        if not isinstance(e, SyntaxError):
            e = SyntaxError("source code cannot contain null bytes")
        sys.excepthook(type(e), e.with_traceback(None), None)
        sys.exit({PYTHON_SYNTAX_STATUS})
    g = sys.modules["__main__"].__dict__
    del g["_muscode_main"]
    g["__file__"] = path
    g["__cached__"] = None
    try:
        exec(code, g)
    except SystemExit:
        raise
    except BaseException as e:
        tb = e.__traceback__.tb_next
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        sys.exit(1)
_muscode_main()
"""
