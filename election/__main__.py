"""`python -m election`: the same CLI as the `election` console script."""

from election.cli import main

if __name__ == "__main__":
    main(prog_name="election")
