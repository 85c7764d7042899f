from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.defaults import server_error as page

from .api import server_error_body
from .health import health_report


@never_cache
def healthz(request):
    report = health_report()
    return JsonResponse(report, status=503 if report["failing"] else 200)


def server_error(request):
    """Answer a server error with the 500 page, or the API's JSON error shape under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse(server_error_body(), status=500)
    return page(request)


def ping(request):
    """Answer "pong" without touching the database or the broker: liveness, and the framework's ceiling."""
    return HttpResponse("pong\n", content_type="text/plain")


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links: send them to the icon the pages use."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
