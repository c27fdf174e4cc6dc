import sys

from datathon.cli import main

sys.exit(main())
