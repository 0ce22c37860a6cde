"""Forms of the `people` pages: they parse and shape input for one service call each.

Rules of the domain (handle format, password strength, link count) live in `people.services`; a form
checks only what a browser can get wrong (missing or over-long fields) and shows the services' refusals.
"""

from __future__ import annotations

from typing import Any

from django import forms

from crowdmaker.core.errors import DomainError
from crowdmaker.people.models import (
    BIO_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    HANDLE_HELP,
    MAX_PROFILE_LINKS,
    SLUG_HELP,
    Role,
    TokenScope,
)


class ServiceForm(forms.Form):
    """A form that can show a service's refusal next to the field it names, or above the form."""

    def add_domain_error(self, error: DomainError) -> None:
        # Services name list items as "links.2"; the page has one field for the whole list.
        field = (error.field or "").split(".", 1)[0]
        self.add_error(field if field in self.fields else None, error.message)


class SignupForm(ServiceForm):
    email = forms.EmailField(
        label="E-mail address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    handle = forms.CharField(
        label="Handle",
        max_length=30,
        help_text="Your page will be /makers/your-handle/. " + HANDLE_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}),
    )
    display_name = forms.CharField(
        label="Display name",
        max_length=80,
        required=False,
        help_text="How other people see you. Leave empty to use your handle.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 10 characters; not a common password and not all digits.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class LoginForm(ServiceForm):
    email = forms.EmailField(
        label="E-mail address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class ProfileForm(ServiceForm):
    display_name = forms.CharField(label="Display name", max_length=80)
    bio = forms.CharField(
        label="About you",
        required=False,
        max_length=BIO_MAX_LENGTH,
        help_text="What you make, what you are good at, what you are looking for.",
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    links = forms.CharField(
        label="Links",
        required=False,
        help_text=f"One web address (http or https) per line, at most {MAX_PROFILE_LINKS}.",
        widget=forms.Textarea(attrs={"rows": MAX_PROFILE_LINKS, "spellcheck": "false"}),
    )
    show_on_public_ledgers = forms.BooleanField(
        label="Show my name on public ledgers",
        required=False,
        help_text="Otherwise your pledges and payments appear on public ledgers under a pseudonym.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        initial_links = self.initial.get("links")
        if isinstance(initial_links, list):
            self.initial["links"] = "\n".join(initial_links)

    def clean_links(self) -> list[str]:
        # Blank lines are dropped here; how many links and which addresses are allowed is the service's call.
        return [line.strip() for line in self.cleaned_data["links"].splitlines() if line.strip()]


class TeamCreateForm(ServiceForm):
    slug = forms.CharField(
        label="Address",
        max_length=50,
        help_text="The team's page will be /teams/the-address/. " + SLUG_HELP,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    name = forms.CharField(label="Name", max_length=80)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class TeamUpdateForm(ServiceForm):
    name = forms.CharField(label="Name", max_length=80)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class InvitationForm(ServiceForm):
    handle = forms.CharField(
        label="Maker's handle",
        max_length=30,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)


class RoleForm(ServiceForm):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class ApiTokenForm(ServiceForm):
    name = forms.CharField(
        label="Name",
        max_length=80,
        help_text="So you can tell your tokens apart, e.g. “workshop laptop”.",
    )
    scope = forms.ChoiceField(
        label="Scope", choices=TokenScope.choices, initial=TokenScope.READ, widget=forms.RadioSelect
    )
