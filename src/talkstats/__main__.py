"""`python -m talkstats`: the same command as the `talkstats` console script."""

from talkstats.cli import main

if __name__ == "__main__":
    main()
