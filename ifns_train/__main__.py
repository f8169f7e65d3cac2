"""`python -m ifns_train`: the same as `ifns-train` (ifns_train.cli.train)."""

from ifns_train.cli.train import main

if __name__ == "__main__":
    main()
