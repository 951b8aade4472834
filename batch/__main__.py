"""`python -m batch` is the same as `pcbatch`."""

from batch.cli import main

if __name__ == "__main__":
    main()
