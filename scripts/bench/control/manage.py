#!/usr/bin/env python
"""manage.py of the benchmark's control: System B's review app as a standalone Django project."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
