import sys

from cogvid_lint.cli import main

sys.exit(main())
