"""Managers write and publish consent forms: the list, a new form, a form with
its versions, the draft (English and Chinese side by side, section by
section) and its publication, and each published version, read-only, with
how many patients signed it. Every rule is in treatments/consents.py; a
refused input is shown in place with what was typed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.errors import ApplicationError, InvalidInput
from patients.permissions import manager_required, user_of
from treatments import consents
from treatments.models import Category, ConsentForm, ConsentVersion
from workspace.consents.forms import SECTION_LABELS, ConsentFormSettings, DraftForm, PublishForm


def _apply(form: Any, error: ApplicationError) -> None:
    """A service's refusal on the form: field messages on their fields, and its
    sentence on top unless it is only the generic "invalid input"."""
    placed = False
    if isinstance(error, InvalidInput):
        for name, texts in (error.fields or {}).items():
            for text in texts:
                form.add_error(name if name in form.fields else None, str(text))
                placed = True
    if not placed or str(error.detail) != str(InvalidInput.default_detail):
        form.add_error(None, str(error.detail))


def _versions(form: ConsentForm) -> list[ConsentVersion]:
    return list(
        ConsentVersion.objects.filter(form=form)
        .select_related("published_by", "created_by")
        .annotate(signature_count=Count("signatures"))
        .order_by("-number")
    )


def _covers(form: ConsentForm) -> list[str]:
    labels = dict(Category.choices)
    return [str(labels.get(code, code)) for code in form.categories or []] + [
        t.localized("name") for t in form.treatments.all()
    ]


@manager_required
@require_GET
def form_list(request: HttpRequest) -> HttpResponse:
    forms = list(
        ConsentForm.objects.prefetch_related(
            "treatments", Prefetch("versions", queryset=ConsentVersion.objects.order_by("-number"))
        )
        .annotate(signature_count=Count("versions__signatures"))
        .order_by("-active", "slug")
    )
    rows = []
    for form in forms:
        versions = list(form.versions.all())
        published = [v for v in versions if v.published]
        rows.append(
            {
                "form": form,
                "title": form.localized("title"),
                "covers": _covers(form),
                "current": published[0] if published else None,
                "draft": next((v for v in versions if not v.published), None),
            }
        )
    return render(request, "consents/list.html", {"rows": rows})


@manager_required
@require_http_methods(["GET", "POST"])
def form_new(request: HttpRequest) -> HttpResponse:
    settings_form = ConsentFormSettings(request.POST if request.method == "POST" else None, new=True)
    status = 200
    if request.method == "POST":
        if settings_form.is_valid():
            data = settings_form.cleaned_data
            try:
                created = consents.consent_form_create(
                    slug=data["slug"],
                    title_en=data["title_en"],
                    title_zh_hant=data["title_zh_hant"],
                    categories=data["categories"],
                    treatments=data["treatments"],
                    active=data["active"],
                    by=user_of(request),
                )
            except ApplicationError as error:
                _apply(settings_form, error)
            else:
                messages.success(request, _("The form is saved. Write its first version."))
                return HttpResponseRedirect(reverse("consents:form", args=[created.slug]))
        status = 400
    return render(request, "consents/new.html", {"settings_form": settings_form}, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def form_detail(request: HttpRequest, slug: str) -> HttpResponse:
    form = get_object_or_404(ConsentForm.objects.prefetch_related("treatments"), slug=slug)
    initial = {
        "title_en": form.title_en,
        "title_zh_hant": form.title_zh_hant,
        "categories": form.categories,
        "treatments": list(form.treatments.all()),
        "active": form.active,
    }
    settings_form = ConsentFormSettings(request.POST if request.method == "POST" else None, initial=initial, new=False)
    status = 200
    if request.method == "POST":
        if settings_form.is_valid():
            data = settings_form.cleaned_data
            try:
                consents.consent_form_update(
                    form=form,
                    by=user_of(request),
                    title_en=data["title_en"],
                    title_zh_hant=data["title_zh_hant"],
                    categories=data["categories"],
                    treatments=data["treatments"],
                    active=data["active"],
                )
            except ApplicationError as error:
                _apply(settings_form, error)
            else:
                messages.success(request, _("The form's settings are saved."))
                return HttpResponseRedirect(reverse("consents:form", args=[form.slug]))
        status = 400
    versions = _versions(form)
    context = {
        "form_obj": form,
        "title": form.localized("title"),
        "covers": _covers(form),
        "settings_form": settings_form,
        "versions": versions,
        "draft": next((v for v in versions if not v.published), None),
        "current": next((v for v in versions if v.published), None),
    }
    return render(request, "consents/form.html", context, status=status)


@manager_required
@require_POST
def draft_new(request: HttpRequest, slug: str) -> HttpResponse:
    form = get_object_or_404(ConsentForm, slug=slug)
    try:
        draft = consents.consent_version_draft(form=form, by=user_of(request))
    except ApplicationError as error:
        messages.error(request, str(error.detail))
        return HttpResponseRedirect(reverse("consents:form", args=[form.slug]))
    if draft.number > 1:
        messages.success(
            request, _("Version %(number)s is a draft, copied from the last one.") % {"number": draft.number}
        )
    return HttpResponseRedirect(reverse("consents:draft", args=[form.slug]))


@manager_required
@require_http_methods(["GET", "POST"])
def draft(request: HttpRequest, slug: str) -> HttpResponse:
    form = get_object_or_404(ConsentForm, slug=slug)
    version = ConsentVersion.objects.filter(form=form, published_at__isnull=True).order_by("-number").first()
    if version is None:
        raise Http404
    texts = {
        f"{name}_{lang}": getattr(version, f"{name}_{lang}")
        for name in ConsentVersion.SECTIONS
        for lang in ("en", "zh_hant")
    }
    posted = request.method == "POST"
    draft_form = DraftForm(request.POST if posted else None, initial=texts)
    publish_form = PublishForm(request.POST if posted and "publish" in request.POST else None)
    first = version.number == 1
    status = 200
    if posted:
        publishing = "publish" in request.POST
        if draft_form.is_valid() and (not publishing or first or publish_form.is_valid()):
            by = user_of(request)
            try:
                version = consents.consent_version_edit(version=version, by=by, **draft_form.cleaned_data)
                if publishing:
                    consents.consent_version_publish(
                        version=version, by=by, keeps_earlier_signatures=None if first else publish_form.keeps()
                    )
            except ApplicationError as error:
                _apply(draft_form, error)
            else:
                if publishing:
                    messages.success(
                        request,
                        _("Version %(number)s is published: patients sign it from now on.")
                        % {"number": version.number},
                    )
                    return HttpResponseRedirect(reverse("consents:version", args=[form.slug, version.number]))
                messages.success(request, _("The draft is saved."))
                return HttpResponseRedirect(reverse("consents:draft", args=[form.slug]))
        status = 400
    context = {
        "form_obj": form,
        "title": form.localized("title"),
        "version": version,
        "draft_form": draft_form,
        "publish_form": publish_form,
        "first": first,
        "sections": draft_form.sections(),
    }
    return render(request, "consents/draft.html", context, status=status)


@manager_required
@require_GET
def version_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """A version as patients read it, in both languages; a draft goes to its editor."""
    form = get_object_or_404(ConsentForm, slug=slug)
    version = get_object_or_404(
        ConsentVersion.objects.select_related("published_by").annotate(signature_count=Count("signatures")),
        form=form,
        number=number,
    )
    if not version.published:
        return HttpResponseRedirect(reverse("consents:draft", args=[form.slug]))
    sections = [
        {
            "label": SECTION_LABELS[name],
            "en": version.section(name, "en"),
            "zh_hant": version.section(name, "zh-hant"),
        }
        for name in ConsentVersion.SECTIONS
    ]
    context = {"form_obj": form, "title": form.localized("title"), "version": version, "sections": sections}
    return render(request, "consents/version.html", context)
