"""`python -m ifns_train.admin` / `ifns-admin`: the Admin console (ifns_train.sxe.admin)."""

from ifns_train.sxe.admin import main

if __name__ == "__main__":
    raise SystemExit(main())
