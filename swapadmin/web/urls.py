from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from . import dynamic, views

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.overview, name="overview"),
    path("hosts/<uuid:code>/", views.host_detail, name="host"),
    path("hosts/<uuid:code>/tune/", views.host_tune, name="host-tune"),
    path("hosts/<uuid:code>/discover/", views.host_discover, name="host-discover"),
    path("hosts/<uuid:code>/forget/", views.host_forget, name="host-forget"),
    path("hosts/<uuid:code>/revoke/", views.host_revoke, name="host-revoke"),
    path("hosts/<uuid:code>/dynamic-swap/", dynamic.host_dynamic_swap, name="host-dynamic-swap"),
    path("backends/new/", views.backend_new, name="backend-new"),
    path("backends/<uuid:code>/", views.backend_detail, name="backend"),
    path(
        "backends/<uuid:code>/confirm/<slug:action>/",
        views.backend_confirm,
        name="backend-confirm",
    ),
    # Before the actions' pattern, which would take "edit" for an action's name.
    path("backends/<uuid:code>/edit/", views.backend_edit, name="backend-edit"),
    path("backends/<uuid:code>/<slug:action>/", views.backend_action, name="backend-action"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<uuid:code>/", views.job_detail, name="job"),
    path("jobs/<uuid:code>/cancel/", views.job_cancel, name="job-cancel"),
    path("audit/", views.audit_log, name="audit"),
]
