import sys

from moonkv.cli.main import main

sys.exit(main())
