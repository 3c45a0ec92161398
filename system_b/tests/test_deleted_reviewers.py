"""A review whose reviewer was deleted (in either admin) still shows on B, by the tombstone's name."""

import pytest
from django.contrib.auth import get_user_model

from review.models import Review

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


def test_reviews_of_a_deleted_reviewer_render_on_the_page_and_in_the_admin(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "a-long-password-1"))
    reviewer = User.objects.create_user("judy", password="a-long-password-1")
    review = Review.objects.create(subject="Budget", reviewer=reviewer)
    assert client.post(f"/admin/sso_shared/user/{reviewer.pk}/delete/", {"post": "yes"}).status_code == 302

    tombstone = f"deleted-{reviewer.pk.hex[:8]}"
    assert f'<td class="owner">{tombstone}</td>' in client.get("/").content.decode()
    listing = client.get("/admin/review/review/")
    assert listing.status_code == 200 and tombstone in listing.content.decode()
    change = client.get(f"/admin/review/review/{review.pk}/change/")
    assert change.status_code == 200 and tombstone in change.content.decode()
