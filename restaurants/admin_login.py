"""Django admin's login view behind the same brute-force throttle as the API's token endpoint."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from .login_throttle import client_ip, login_failed, login_lockout, login_succeeded


def _locked_out(request: HttpRequest, retry_after: int) -> HttpResponse:
    form = AdminAuthenticationForm(request)  # unbound: no password is checked while locked out
    form.cleaned_data = {}  # add_error wants it; an unbound form never cleans
    form.add_error(None, f"Too many failed logins; try again in {retry_after} seconds.")
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "form": form,
        "username": request.POST.get("username", ""),
        REDIRECT_FIELD_NAME: request.GET.get(REDIRECT_FIELD_NAME, ""),
    }
    response = TemplateResponse(request, "admin/login.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@never_cache
@csrf_protect
def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    username, ip = request.POST.get("username", ""), client_ip(request)
    lock = login_lockout(username=username, ip=ip)
    if lock is not None:
        return _locked_out(request, lock.retry_after)
    response = admin.site.login(request, extra_context)
    if response.status_code == 302:  # LoginView redirects on success and re-renders the form on failure
        login_succeeded(username=username)
    elif response.status_code == 200:
        lock = login_failed(username=username, ip=ip)
        if lock is not None:
            return _locked_out(request, lock.retry_after)
    return response
