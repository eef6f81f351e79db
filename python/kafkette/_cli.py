"""The `kafkette` console command (``pip install`` puts it on PATH): the C command of tools/cli,
the same as ``build/kafkette`` and the Ruby gem's ``kafkette``. See README.md, "The kafkette command"."""

import sys
from typing import List, Optional

from . import _kafkette


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``kafkette ARGS...`` (argv defaults to sys.argv) and return its exit code: 0 done,
    1 failed, 2 a usage error, 130 stopped by Ctrl-C."""
    args = sys.argv[1:] if argv is None else list(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    return _kafkette._cli_main(["kafkette", *args])


if __name__ == "__main__":
    sys.exit(main())
