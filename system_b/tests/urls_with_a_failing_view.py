"""System B's URLs plus one view that writes a review and then fails (ATOMIC_REQUESTS test)."""

from django.urls import path

from config.urls import urlpatterns as service_urlpatterns
from review.models import Review


def write_then_fail(request):
    Review.objects.create(subject="Half-done", reviewer=request.user)
    raise RuntimeError("the view failed after writing")


urlpatterns = [path("write-then-fail", write_then_fail), *service_urlpatterns]
