from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("", views.token_list, name="tokens"),
    path("<uuid:code>/revoke/", views.token_revoke, name="token-revoke"),
]
