"""Pages of `ledger`: /ledger/<kind>/<id>/ is an owner's public ledger (the platform's is /ledger/platform/-/)."""

from django.urls import path

from crowdmaker.ledger import views

app_name = "ledger"
urlpatterns = [
    path("ledger/<str:kind>/<str:owner_id>/", views.owner_ledger, name="owner_ledger"),
]
