import sys

from pearlkit.cli import main

sys.exit(main())
