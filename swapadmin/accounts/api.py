"""/api/v1/tokens/: list, create and revoke API tokens. Everyone with a role manages their
own tokens (a token acts with its owner's role, so a viewer's only reads); an admin sees and
revokes anyone's. The secret is in the answer to the POST and nowhere else, ever."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from swapadmin.api.pagination import OffsetPagination
from swapadmin.api.permissions import actor_for
from swapadmin.api.serializers import PageSerializer
from swapadmin.api.views import ApiDefaults
from swapadmin.core import roles, services

from . import tokens
from .models import MAX_DAYS, NAME_MAX, ApiToken


class TokenSerializer(serializers.ModelSerializer[ApiToken]):
    id = serializers.UUIDField(source="code", read_only=True)
    user = serializers.CharField(source="user.get_username", read_only=True)
    expires = serializers.DateTimeField(source="expiry", read_only=True, allow_null=True)
    last_used = serializers.DateTimeField(source="last_used_at", read_only=True, allow_null=True)
    expired = serializers.BooleanField(read_only=True)
    # Not Field.parent: DRF's metaclass takes declared fields off the class.
    parent = serializers.UUIDField(  # type: ignore[assignment]
        source="parent.code", read_only=True, allow_null=True,
        help_text="the id of the token that made this one (it is revoked with that one); "
        "null for a token made by a person who signed in",
    )  # fmt: skip

    class Meta:
        list_serializer_class = PageSerializer
        model = ApiToken
        fields = ["id", "name", "user", "created", "expires", "last_used", "expired", "parent"]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=NAME_MAX, help_text="what uses the token")
    expires_in_days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, default=30)


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="the secret: send it as `Authorization: Token <token>`; "
        "shown in this answer only"
    )  # fmt: skip

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class HasRole(BasePermission):
    """Logged in (else 401) with at least the viewer role (else 403)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if not roles.can(request.user, "view"):
            raise PermissionDenied("tokens need the viewer role")
        return True


class TokenViewSet(
    ApiDefaults,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    """Your API tokens (an admin's list has everyone's). Another user's token is a 404."""

    serializer_class = TokenSerializer
    permission_classes = [HasRole]
    lookup_field = "code"
    lookup_url_kwarg = "uuid"
    filter_backends: list[Any] = []
    # A token's key is its secret's digest: a cursor would carry it into URLs and logs.
    # The list is a person's few tokens (an admin's, everyone's): limit/offset is enough.
    pagination_class = OffsetPagination

    def get_queryset(self) -> QuerySet[ApiToken]:
        return tokens.visible_to(self.request.user)

    @extend_schema(
        request=TokenCreateSerializer,
        responses={201: OpenApiResponse(TokenCreatedSerializer, description="the new token")},
    )
    def create(self, request: Request) -> Response:
        """Make a token for yourself. A request authenticated by a token cannot make one that
        outlives it, and what it makes is revoked with it."""
        data = TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        calling = request.auth if isinstance(request.auth, ApiToken) else None
        assert isinstance(request.user, AbstractBaseUser)  # HasRole: signed in
        try:
            token, secret = tokens.create(
                request.user,
                data.validated_data["name"],
                data.validated_data["expires_in_days"],
                actor_for(request),
                parent=calling,
            )
        except services.InvalidRequest as e:
            raise ValidationError(e.errors) from None
        token.token = secret
        body = TokenCreatedSerializer(token).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: OpenApiResponse(description="revoked: it works no more")})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Revoke a token, and every token it made: the next request that sends any of them
        is refused."""
        request.data  # noqa: B018 - a body that is not JSON is a 415, as for every change
        tokens.revoke(self.get_object(), actor_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
