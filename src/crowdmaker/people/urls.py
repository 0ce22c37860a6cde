"""Pages of `people`: sign-up, sign-in, profiles, teams, invitations and API tokens."""

from django.urls import path

from crowdmaker.people import views

app_name = "people"
urlpatterns: list = []
