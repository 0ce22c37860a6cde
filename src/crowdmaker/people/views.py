"""Pages of `people`: sign-up, sign-in, e-mail verification, profiles, teams, members, invitations, API tokens.

Each view parses input with a form, calls one service and redirects; a service's refusal is shown next to
the field it names and changes nothing. Views never write to the database themselves.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from crowdmaker.core.errors import DomainError, NotFound, Throttled
from crowdmaker.core.http import client_ip
from crowdmaker.core.services import throttle_clear, throttle_key, throttle_release, throttle_take
from crowdmaker.people import selectors, services
from crowdmaker.people.forms import (
    ApiTokenForm,
    InvitationForm,
    LoginForm,
    ProfileForm,
    RoleForm,
    ServiceForm,
    SignupForm,
    TeamCreateForm,
    TeamUpdateForm,
)
from crowdmaker.people.models import Role, Team, User

TEAMS_PER_PAGE = 24
# Throttle scopes; the keys are hashes of the client's IP address (and the e-mail tried), never raw values.
LOGIN_BY_IP = "login_ip"
LOGIN_BY_IP_AND_EMAIL = "login_ip_email"
SIGNUP_BY_IP = "signup_ip"
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # callers are behind login_required
    return user


def _viewer(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _throttle_message() -> str:
    minutes = max(1, math.ceil(settings.CROWDMAKER_THROTTLE_WINDOW_SECONDS / 60))
    return f"Too many attempts; try again in {minutes} minute{'s' if minutes != 1 else ''}."


def _render_form(
    request: HttpRequest, template: str, form: ServiceForm, *, status: int = 200, **context: Any
) -> HttpResponse:
    return render(request, template, {"form": form, **context}, status=status)


def _render_throttled(
    request: HttpRequest, template: str, form: ServiceForm, exc: Throttled, **context: Any
) -> HttpResponse:
    response = _render_form(request, template, form, status=429, throttled=exc.message, **context)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


# --- accounts ------------------------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    template = "people/signup.html"
    if request.method == "GET":
        if request.user.is_authenticated:
            return redirect("core:home")
        return _render_form(request, template, SignupForm())
    form = SignupForm(request.POST)
    try:
        # Every attempt counts, successful or not: the limit slows mass sign-ups and probing for e-mails.
        throttle_take(
            scope=SIGNUP_BY_IP,
            key=throttle_key(client_ip(request)),
            limit=settings.CROWDMAKER_SIGNUPS_PER_WINDOW,
            message=_throttle_message(),
        )
    except Throttled as exc:
        kept = {name: request.POST.get(name, "") for name in ("email", "handle", "display_name")}
        return _render_throttled(request, template, SignupForm(initial=kept), exc)
    if not form.is_valid():
        return _render_form(request, template, form, status=400)
    try:
        user, mailed = services.user_signup(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            handle=form.cleaned_data["handle"],
            display_name=form.cleaned_data["display_name"],
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_form(request, template, form, status=exc.status)
    login(request, user, backend=AUTH_BACKEND)
    welcome = f"Welcome to Crowdmaker, {user.profile.display_name}!"
    if mailed:
        welcome += " We mailed you a link to verify your e-mail address."
    messages.success(request, welcome)
    return redirect("people:profile", handle=user.handle)


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    template = "people/login.html"
    next_url = _safe_next(request)
    if request.method == "GET":
        return _render_form(request, template, LoginForm(), next=next_url)
    form = LoginForm(request.POST)
    if not form.is_valid():
        return _render_form(request, template, form, status=400, next=next_url)
    email = form.cleaned_data["email"].lower()
    ip = client_ip(request)
    email_key = throttle_key(ip, email)
    # Each attempt takes a slot as a failure before the password is checked (so parallel guesses cannot all
    # slip under the limit, and a throttled client learns nothing about the password); a sign-in that
    # succeeds gives its slots back. Always the address first, then address and e-mail: one lock order.
    taken: list[int] = []
    try:
        taken.append(
            throttle_take(
                scope=LOGIN_BY_IP,
                key=throttle_key(ip),
                limit=settings.CROWDMAKER_LOGIN_FAILURES_PER_IP_PER_WINDOW,
                message=_throttle_message(),
            )
        )
        taken.append(
            throttle_take(
                scope=LOGIN_BY_IP_AND_EMAIL,
                key=email_key,
                limit=settings.CROWDMAKER_LOGIN_FAILURES_PER_WINDOW,
                message=_throttle_message(),
            )
        )
    except Throttled as exc:
        throttle_release(event_ids=taken)  # a refused attempt is not a failure: it must not count twice
        return _render_throttled(request, template, LoginForm(initial={"email": email}), exc, next=next_url)
    user = authenticate(request, username=email, password=form.cleaned_data["password"])
    if user is None:
        form.add_error(None, "This e-mail address and password do not match an account.")
        return _render_form(request, template, form, status=400, next=next_url)
    throttle_release(event_ids=taken)
    throttle_clear(scope=LOGIN_BY_IP_AND_EMAIL, key=email_key)
    login(request, user)
    return redirect(next_url)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


# --- e-mail verification -------------------------------------------------------------------------------------


def _verification_page(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    response = render(request, "people/email_verify.html", context, status=status)
    # The token is in this page's address: keep it out of caches and out of the Referer of any link followed.
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "POST"])
def email_verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET only checks the link and shows a button; POST verifies.

    Mail scanners and link previews fetch every link in a message with GET; if GET verified, an address
    could be verified without its owner ever seeing the mail. Signing in is not needed: the link is the proof.
    """
    if request.method == "GET":
        try:
            maker = selectors.email_verification_user(token=token)
        except DomainError as exc:
            return _verification_page(request, {"error": exc.message}, status=exc.status)
        return _verification_page(request, {"maker": maker, "already": maker.email_verified_at is not None})
    try:
        maker, newly = services.email_verify(token=token)
    except DomainError as exc:
        return _verification_page(request, {"error": exc.message}, status=exc.status)
    return _verification_page(request, {"maker": maker, "already": not newly, "done": newly})


@login_required
@require_POST
def email_verification_resend(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    try:
        services.email_verification_send(user=me)
    except Throttled as exc:
        response = _profile_edit_page(request, me, status=429, throttled=exc.message)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except DomainError as exc:
        messages.info(request, exc.message)
        return redirect(_safe_next(request))
    messages.success(request, f"We mailed a new verification link to {me.email}.")
    return redirect(_safe_next(request))


# --- profiles ------------------------------------------------------------------------------------------------


def profile(request: HttpRequest, handle: str) -> HttpResponse:
    try:
        maker, memberships = selectors.profile_with_teams(handle=handle)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(
        request,
        "people/profile.html",
        {"maker": maker, "memberships": memberships, "is_me": _viewer(request) == maker},
    )


def _profile_edit_page(
    request: HttpRequest, me: User, form: ProfileForm | None = None, *, status: int = 200, **context: Any
) -> HttpResponse:
    if form is None:
        current = me.profile
        form = ProfileForm(
            initial={
                "display_name": current.display_name,
                "bio": current.bio,
                "links": list(current.links),
                "show_on_public_ledgers": current.show_on_public_ledgers,
            }
        )
    return _render_form(request, "people/profile_edit.html", form, status=status, **context)


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    if request.method == "GET":
        return _profile_edit_page(request, me)
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _profile_edit_page(request, me, form, status=400)
    try:
        services.profile_update(
            user=me,
            display_name=form.cleaned_data["display_name"],
            bio=form.cleaned_data["bio"],
            links=form.cleaned_data["links"],
            show_on_public_ledgers=form.cleaned_data["show_on_public_ledgers"],
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return _profile_edit_page(request, me, form, status=exc.status)
    messages.success(request, "Your profile is saved.")
    return redirect("people:profile", handle=me.handle)


# --- teams ---------------------------------------------------------------------------------------------------


def team_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.teams_all().order_by("name", "pk"), TEAMS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "people/team_list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def team_new(request: HttpRequest) -> HttpResponse:
    template = "people/team_new.html"
    if request.method == "GET":
        return _render_form(request, template, TeamCreateForm())
    form = TeamCreateForm(request.POST)
    if not form.is_valid():
        return _render_form(request, template, form, status=400)
    try:
        team = services.team_create(actor=_me(request), **form.cleaned_data)
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_form(request, template, form, status=exc.status)
    messages.success(request, f"Team “{team.name}” is created. Invite people to it below.")
    return redirect("people:team_detail", slug=team.slug)


def _team(slug: str) -> Team:
    try:
        return selectors.team_by_slug(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _team_context(request: HttpRequest, team: Team) -> dict[str, Any]:
    viewer = _viewer(request)
    role = selectors.team_role(team=team, user=viewer) if viewer else None
    can_manage = selectors.team_can_manage(role=role)
    return {
        "team": team,
        "role": role,
        "can_manage": can_manage,
        "is_owner": role == Role.OWNER,
        "members": selectors.team_members(team=team).order_by("joined_at", "pk"),
        "invitations": selectors.team_invitations_pending(team=team).order_by("-created_at") if can_manage else [],
        "roles": Role.choices,
    }


def _team_page(
    request: HttpRequest,
    team: Team,
    *,
    status: int = 200,
    update_form: TeamUpdateForm | None = None,
    invitation_form: InvitationForm | None = None,
) -> HttpResponse:
    context = _team_context(request, team)
    context["update_form"] = update_form or TeamUpdateForm(
        prefix="team", initial={"name": team.name, "description": team.description}
    )
    context["invitation_form"] = invitation_form or InvitationForm(prefix="invite")
    return render(request, "people/team_detail.html", context, status=status)


def _team_section(
    request: HttpRequest, team: Team, template: str, *, status: int = 200, notice: str = "", error: str = ""
) -> HttpResponse:
    """One section of the team page, for htmx to swap in place; it carries its own notice or error."""
    context = _team_context(request, team)
    context.update(notice=notice, error=error)
    return render(request, template, context, status=status)


def _small_action_done(request: HttpRequest, team: Team, template: str, notice: str) -> HttpResponse:
    """htmx swaps the updated section in place; without JavaScript the page reloads with the notice."""
    if request.htmx:  # type: ignore[attr-defined]
        return _team_section(request, team, template, notice=notice)
    messages.success(request, notice)
    return redirect("people:team_detail", slug=team.slug)


def _small_action_refused(request: HttpRequest, team: Team, template: str, exc: DomainError) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return _team_section(request, team, template, status=exc.status, error=exc.message)
    messages.error(request, exc.message)
    return _team_page(request, team, status=exc.status)


def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _team_page(request, _team(slug))


@login_required
@require_POST
def team_edit(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team(slug)
    form = TeamUpdateForm(request.POST, prefix="team")
    if not form.is_valid():
        return _team_page(request, team, status=400, update_form=form)
    try:
        services.team_update(actor=_me(request), team=team, **form.cleaned_data)
    except DomainError as exc:
        form.add_domain_error(exc)
        return _team_page(request, team, status=exc.status, update_form=form)
    messages.success(request, "The team's details are saved.")
    return redirect("people:team_detail", slug=team.slug)


@login_required
@require_POST
def team_invite(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team(slug)
    form = InvitationForm(request.POST, prefix="invite")
    if not form.is_valid():
        return _team_page(request, team, status=400, invitation_form=form)
    try:
        invitation = services.team_invitation_create(
            actor=_me(request), team=team, invitee_handle=form.cleaned_data["handle"], role=form.cleaned_data["role"]
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return _team_page(request, team, status=exc.status, invitation_form=form)
    messages.success(request, f"@{invitation.invitee.handle} is invited as {invitation.get_role_display().lower()}.")
    return redirect("people:team_detail", slug=team.slug)


@login_required
@require_POST
def team_invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    team = _team(slug)
    template = "people/_team_invitations.html"
    try:
        invitation = services.team_invitation_revoke(actor=_me(request), team=team, invitation_id=invitation_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        return _small_action_refused(request, team, template, exc)
    notice = f"The invitation of @{invitation.invitee.handle} is revoked."
    return _small_action_done(request, team, template, notice)


@login_required
@require_POST
def team_member_role(request: HttpRequest, slug: str, handle: str) -> HttpResponse:
    team = _team(slug)
    template = "people/_team_members.html"
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _small_action_refused(request, team, template, DomainError("Choose one of the roles.", field="role"))
    try:
        membership = services.team_member_change_role(
            actor=_me(request), team=team, member_handle=handle, role=form.cleaned_data["role"]
        )
    except DomainError as exc:
        return _small_action_refused(request, team, template, exc)
    notice = f"@{handle} is now {membership.get_role_display().lower()}."
    return _small_action_done(request, team, template, notice)


@login_required
@require_POST
def team_member_remove(request: HttpRequest, slug: str, handle: str) -> HttpResponse:
    """Remove a member (owners), or leave the team (anyone, with their own handle)."""
    team = _team(slug)
    me = _me(request)
    template = "people/_team_members.html"
    leaving = handle == me.handle
    try:
        services.team_member_remove(actor=me, team=team, member_handle=handle)
    except DomainError as exc:
        return _small_action_refused(request, team, template, exc)
    if leaving:
        messages.success(request, f"You left {team.name}.")
        return redirect("people:team_detail", slug=team.slug)
    notice = f"@{handle} is no longer a member."
    return _small_action_done(request, team, template, notice)


# --- invitations ---------------------------------------------------------------------------------------------


@login_required
def invitations(request: HttpRequest) -> HttpResponse:
    return render(request, "people/invitations.html", {"invitations": selectors.invitations_for(user=_me(request))})


@login_required
@require_POST
def invitation_accept(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        membership = services.team_invitation_accept(actor=_me(request), invitation_id=invitation_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("people:invitations")
    messages.success(request, f"You joined {membership.team.name}.")
    return redirect("people:team_detail", slug=membership.team.slug)


@login_required
@require_POST
def invitation_decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        invitation = services.team_invitation_decline(actor=_me(request), invitation_id=invitation_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("people:invitations")
    messages.info(request, f"You declined the invitation to {invitation.team.name}.")
    return redirect("people:invitations")


# --- API tokens ----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """List and create tokens. A new token is shown in this one response only: never stored, never logged."""
    me = _me(request)
    status = 200
    raw_token = ""
    new_token = None
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                new_token, raw_token = services.api_token_create(user=me, **form.cleaned_data)
            except DomainError as exc:
                form.add_domain_error(exc)
                status = exc.status
            else:
                status = 201
                form = ApiTokenForm()
        else:
            status = 400
    else:
        form = ApiTokenForm()
    response = _render_form(
        request,
        "people/api_tokens.html",
        form,
        status=status,
        tokens=selectors.api_tokens_of(user=me),
        new_token=new_token,
        raw_token=raw_token,
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.api_token_revoke(actor=_me(request), token_id=token_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, f"The token “{token.name}” is revoked; clients using it are refused from now on.")
    return redirect("people:api_tokens")
