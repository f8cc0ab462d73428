"""Run the keeper: `python -I -S <this file> CONFIG_JSON` (the daemon starts it).

`-I -S`: no site-packages, no user paths, nothing from the environment: only the standard
library and this package run between the daemon and its job.
"""

import os
import sys

if __name__ == "__main__":
    # Under -I the script's folder is not on the path: put the package's root there.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from election.keeper.shell import main

    sys.exit(main(sys.argv[1:]))
