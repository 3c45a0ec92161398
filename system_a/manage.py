#!/usr/bin/env python
from sso_shared.cli import run_manage

if __name__ == "__main__":
    run_manage("config.settings")
