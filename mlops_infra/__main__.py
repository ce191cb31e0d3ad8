"""`python -m mlops_infra`: the command line."""

from mlops_infra.cli import process

if __name__ == "__main__":
    process()
