"""Pages owned by core: the home page."""

from django.urls import path

from crowdmaker.core import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
]
