"""Command line: ``python -m helpers COMMAND ...`` (see ``python -m helpers --help``)."""
import sys

from .cli import main

sys.exit(main())
