import sys

from dsrwatch.cli import main

sys.exit(main())
