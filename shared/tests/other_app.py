"""Another app's views whose URL names and view names match exempt ones: "health", "login", LoginView."""

from django.http import HttpResponse
from django.urls import path
from django.views import View


def health(request):
    return HttpResponse("The other app's health page")


class LoginView(View):
    def get(self, request):
        return HttpResponse("The other app's login page")


urlpatterns = [
    path("health", health, name="health"),
    path("login/", LoginView.as_view(), name="login"),
]
