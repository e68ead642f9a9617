import sys

from pipeline_def.cli import main

sys.exit(main())
