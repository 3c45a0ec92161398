from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .forms import RequestForm
from .models import Request

RECENT = 20


@login_required
def home(request):
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.owner = request.user
        form.save()
        messages.success(request, f"Request “{form.instance.title}” recorded.")
        return redirect("home")
    # The owners come in the same query: the user table is in the shared schema of the same database.
    recent = visible_requests(request.user).select_related("owner")[:RECENT]
    return render(request, "intake/home.html", {"form": form, "requests": recent, "sees_all": request.user.is_staff})


def visible_requests(user):
    """Staff see every request, as B's reviewers see every review; everyone else sees their own.

    A request is between the person who filed it and the staff who handle it.
    """
    if user.is_staff:
        return Request.objects.all()
    return Request.objects.filter(owner=user)
