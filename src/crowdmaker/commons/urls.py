"""Pages of the commons: the catalog, designs and their versions, forms to publish and remix, and systems."""

from __future__ import annotations

from django.urls import URLPattern, path

from crowdmaker.commons import views, views_edit, views_files, views_systems

app_name = "commons"

urlpatterns: list[URLPattern] = [
    path("designs/", views.catalog, name="catalog"),
    path("designs/new/", views_edit.design_new, name="design_new"),
    # Fixed paths under designs/ (designs/new/, ...) go above this line, or designs/<slug>/ takes them.
    path("designs/<str:slug>/", views.design_detail, name="design_detail"),
    path("designs/<str:slug>/edit/", views_edit.design_edit, name="design_edit"),
    path("designs/<str:slug>/versions/new/", views_edit.version_new, name="version_new"),
    path("designs/<str:slug>/fork/", views_edit.design_fork, name="design_fork"),
    path("designs/<str:slug>/cite/", views_edit.design_cite, name="design_cite"),
    path("designs/<str:slug>/images/", views_edit.design_image_add, name="design_image_add"),
    path("designs/<str:slug>/v<int:number>/", views.version_detail, name="version_detail"),
    path("designs/<str:slug>/v<int:number>/manifest.json", views.version_manifest, name="version_manifest"),
    path("designs/<str:slug>/v<int:number>/files/<str:name>", views_files.version_file, name="version_file"),
    path(
        "designs/<str:slug>/v<int:number>/add-to-system/",
        views_systems.version_add_to_system,
        name="version_add_to_system",
    ),
    path("designs/<str:slug>/v<int:number>/compatible/", views_systems.version_compatible, name="version_compatible"),
    path("systems/", views_systems.system_list, name="system_list"),
    path("systems/shared/<str:share_token>/", views_systems.system_shared, name="system_shared"),
    path("systems/<int:system_id>/", views_systems.system_detail, name="system_detail"),
    path("systems/<int:system_id>/delete/", views_systems.system_delete, name="system_delete"),
    path("systems/<int:system_id>/members/", views_systems.system_member_add, name="system_member_add"),
    path(
        "systems/<int:system_id>/members/<int:member_id>/remove/",
        views_systems.system_member_remove,
        name="system_member_remove",
    ),
    path("systems/<int:system_id>/add/", views_systems.system_products_add, name="system_products_add"),
]
