"""`python -m mlops_infra`: the command line."""

from mlops_infra.cli import main

if __name__ == "__main__":
    main()
