"""The benchmark's user and rows, the same in the real stack and in the control.

Run by ./stack bench through ``manage.py shell`` (standard input) of System B and of the
control. Safe to repeat: the user gets the given password, the bench's reviews are made anew.
"""

import os

from django.apps import apps
from django.contrib.auth import get_user_model

from review.models import Review

REVIEWS = 30  # more than the home page lists (20), so every page is full

User = get_user_model()
username = os.environ["DJANGO_BENCH_USER"]
user, _ = User.objects.get_or_create(username=username)
user.set_password(os.environ["DJANGO_BENCH_PASSWORD"])
user.is_active, user.is_staff, user.is_superuser = True, False, False
user.save()
colleague, _ = User.objects.get_or_create(username=f"{username}-colleague")
if apps.is_installed("sso_shared"):
    # An ordinary user with access to B, whatever an earlier run or an admin changed.
    from sso_shared.access.service_access import access_group

    user.groups.add(access_group("b"))
Review.objects.filter(subject__startswith="bench: ").delete()
Review.objects.bulk_create(
    Review(subject=f"bench: request {number}", reviewer=(user, colleague)[number % 2]) for number in range(REVIEWS)
)
print(f"seeded {username} and {REVIEWS} reviews")
