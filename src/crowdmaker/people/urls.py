"""Pages of `people`: sign-up, sign-in, e-mail verification, profiles, teams, invitations and API tokens."""

from django.urls import path

from crowdmaker.people import views

app_name = "people"
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("verify-email/<str:token>/", views.email_verify, name="email_verify"),
    path("settings/email-verification/", views.email_verification_resend, name="email_verification_resend"),
    path("makers/<str:handle>/", views.profile, name="profile"),
    path("settings/profile/", views.profile_edit, name="profile_edit"),
    path("settings/tokens/", views.api_tokens, name="api_tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/new/", views.team_new, name="team_new"),
    path("teams/<str:slug>/", views.team_detail, name="team_detail"),
    path("teams/<str:slug>/edit/", views.team_edit, name="team_edit"),
    path("teams/<str:slug>/invitations/", views.team_invite, name="team_invite"),
    path(
        "teams/<str:slug>/invitations/<int:invitation_id>/revoke/",
        views.team_invitation_revoke,
        name="team_invitation_revoke",
    ),
    path("teams/<str:slug>/members/<str:handle>/role/", views.team_member_role, name="team_member_role"),
    path("teams/<str:slug>/members/<str:handle>/remove/", views.team_member_remove, name="team_member_remove"),
    path("invitations/", views.invitations, name="invitations"),
    path("invitations/<int:invitation_id>/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<int:invitation_id>/decline/", views.invitation_decline, name="invitation_decline"),
]
