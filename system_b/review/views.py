from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .forms import ReviewForm
from .models import Review

RECENT = 20


@login_required
def home(request):
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.reviewer = request.user
        form.save()
        messages.success(request, f"Review of “{form.instance.subject}” recorded.")
        return redirect("home")
    # The reviewers come in the same query: the user table is in the shared schema of the same database.
    recent = Review.objects.select_related("reviewer")[:RECENT]
    return render(request, "review/home.html", {"form": form, "reviews": recent})
