"""The project's URLs plus a bare view: the baseline the benches measure under the same server and middleware.

Selected with ROOT_URLCONF_OVERRIDE=bench.urls; never part of the shipped URLconf.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sufrahbot.urls import handler404, handler500  # noqa: F401
from sufrahbot.urls import urlpatterns as project_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    """Reads the body like a webhook does, touches neither the database nor Redis."""
    request.POST  # noqa: B018 - parse the form body as the webhook view does
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', content_type="text/xml")


urlpatterns = [path("bench/bare/", bare), *project_urlpatterns]
